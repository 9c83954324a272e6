/**
 * The preload of the app window (sandboxed, context-isolated): exposes `window.kiln` as the
 * KilnApi contract over two fixed IPC channels. The renderer never sees ipcRenderer itself.
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { IPC_EVENT, IPC_INVOKE } from '../src-shared/ipc-channels.ts';
import type { EventName, KilnApi } from '../src-shared/contract.ts';
import type { SerializedError } from '../src-shared/errors.ts';

type Reply = { result: unknown } | { error: SerializedError };

const listeners = new Map<string, Set<(payload: unknown) => void>>();

ipcRenderer.on(IPC_EVENT, (_event, name: unknown, payload: unknown) => {
  if (typeof name !== 'string') return;
  listeners.get(name)?.forEach((l) => l(payload));
});

const api: KilnApi = {
  async call(method, ...args) {
    const reply = (await ipcRenderer.invoke(IPC_INVOKE, method, args)) as Reply;
    // A plain {name, message}: an Error would lose its name crossing the context bridge.
    if ('error' in reply) throw { name: reply.error.name, message: reply.error.message };
    return (reply.result === null ? undefined : reply.result) as never;
  },
  on(event: EventName, listener: (payload: never) => void) {
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    const l = listener as (payload: unknown) => void;
    set.add(l);
    return () => void set.delete(l);
  },
  pathForFile(file: File) {
    return webUtils.getPathForFile(file);
  },
};

contextBridge.exposeInMainWorld('kiln', api);
