import { IPC_EVENT, IPC_INVOKE, type EventName, type KilnEvents, type KilnHandlers } from '../../src-shared/contract.ts';
import { dispatch, type Reply } from '../app/dispatch.ts';
import type { DailyLog } from '../app/daily-log.ts';

/** What registration needs of Electron's ipcMain: passed in, so this module loads without the electron binary. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown> | unknown): void;
  removeHandler(channel: string): void;
}

export interface InvokeEventLike {
  senderFrame?: { url: string } | null;
}

export interface WebContentsLike {
  isDestroyed(): boolean;
  send(channel: string, ...args: unknown[]): void;
}

/**
 * One handler on the fixed invoke channel: the sender must be the app's own page, the method must be
 * in the contract and its arguments must pass the contract's schema before a service sees them.
 * Replies are {result} or {error: {name, message}}, never a thrown error (Electron would prefix it).
 */
export function registerKilnIpc(
  ipcMain: IpcMainLike,
  handlers: KilnHandlers,
  opts: { isTrustedSender: (url: string) => boolean; log?: DailyLog },
): () => void {
  ipcMain.handle(IPC_INVOKE, async (event, method, args): Promise<Reply> => {
    const url = event.senderFrame?.url ?? '';
    if (!opts.isTrustedSender(url)) {
      opts.log?.warn(`refused an IPC call from ${url || 'an unknown frame'}`);
      return { error: { name: 'ForbiddenError', message: 'Kiln only answers its own window' } };
    }
    return dispatch(handlers, method, args, opts.log);
  });
  return () => ipcMain.removeHandler(IPC_INVOKE);
}

/** Events go to every open window on the fixed event channel. */
export function ipcEmitter(windows: () => WebContentsLike[]) {
  return <E extends EventName>(event: E, payload: KilnEvents[E]) => {
    for (const wc of windows()) if (!wc.isDestroyed()) wc.send(IPC_EVENT, event, payload);
  };
}

/** The app's page: its file:// folder when packaged, the dev server's origin under `npm run dev`. */
export function trustedSender(rendererUrl: string): (url: string) => boolean {
  const base = new URL(rendererUrl);
  if (base.protocol === 'file:') {
    const dir = base.href.slice(0, base.href.lastIndexOf('/') + 1);
    return (url) => url.startsWith(dir);
  }
  return (url) => {
    try {
      return new URL(url).origin === base.origin;
    } catch {
      return false;
    }
  };
}
