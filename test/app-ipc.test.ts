import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPC_EVENT, IPC_INVOKE, METHOD_ARGS, type MethodName } from '../src-shared/contract.ts';
import { createKilnServices, type KilnServices } from '../src-main/app/kiln-services.ts';
import {
  appMainFrames,
  ipcEmitter,
  registerKilnIpc,
  type FrameLike,
  type InvokeEventLike,
  type IpcMainLike,
} from '../src-main/electron/register-ipc.ts';

type Listener = (event: InvokeEventLike, ...args: unknown[]) => unknown;

/** Electron's ipcMain as far as registration uses it: handlers by channel, one each. */
class FakeIpcMain implements IpcMainLike {
  readonly handlers = new Map<string, Listener>();
  handle(channel: string, listener: Listener): void {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
  invoke(frame: FrameLike | null, ...args: unknown[]): Promise<{ result?: unknown; error?: { name: string; message: string } }> {
    const h = this.handlers.get(IPC_INVOKE);
    if (!h) throw new Error('nothing registered on the invoke channel');
    return Promise.resolve(h({ senderFrame: frame }, ...args)) as never;
  }
}

const APP_URL = 'file:///opt/Kiln/resources/app/out/renderer/index.html';
const frame = (url: string, processId: number, routingId: number): FrameLike => ({ url, processId, routingId });
/** The app window's main frame, as Electron's senderFrame gives it. */
const PAGE = frame(`${APP_URL}#/runs`, 7, 1);
const appWindow = { isDestroyed: () => false, mainFrame: PAGE };

/** Arguments that fail each method's schema: one too many for every tuple, and a non-integer number as the first argument (no method takes one). */
function badArgs(method: MethodName): unknown[][] {
  const schema = METHOD_ARGS[method];
  const arity = (schema.def as { items: unknown[] }).items.length;
  const tooMany = [...Array(arity).fill('x'), 'extra'];
  return arity > 0 ? [tooMany, [12345.5]] : [tooMany];
}

describe('Electron IPC registration', () => {
  let home: string;
  let services: KilnServices;
  const ipc = new FakeIpcMain();
  const sent: unknown[][] = [];

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ipc-'));
    const emit = ipcEmitter(() => [{ isDestroyed: () => false, send: (...args: unknown[]) => void sent.push(args) }]);
    services = await createKilnServices({ home, emit, electron: true });
    registerKilnIpc(ipc, services.handlers, { isTrustedSender: appMainFrames(() => [appWindow]), log: services.log });
  });
  afterAll(async () => {
    await services?.shutdown();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('registers one handler, on the fixed invoke channel', () => {
    expect([...ipc.handlers.keys()]).toEqual([IPC_INVOKE]);
  });

  it('has a service for every contract method', () => {
    expect(Object.keys(services.handlers).sort()).toEqual(Object.keys(METHOD_ARGS).sort());
    for (const fn of Object.values(services.handlers)) expect(typeof fn).toBe('function');
  });

  it('validates the arguments of every method before a service sees them', async () => {
    for (const method of Object.keys(METHOD_ARGS) as MethodName[]) {
      for (const args of badArgs(method)) {
        const reply = await ipc.invoke(PAGE, method, args);
        expect(reply.error, `${method} ${JSON.stringify(args)}`).toEqual({
          name: 'ValidationError',
          message: expect.stringMatching(new RegExp(`^${method.replace('.', '\\.')}: `)),
        });
      }
    }
  });

  it('answers valid calls, with results or readable errors', async () => {
    expect((await ipc.invoke(PAGE, 'app.info', [])).result).toMatchObject({ electron: true, home: path.resolve(home) });
    expect((await ipc.invoke(PAGE, 'datasets.pickFolder', [])).result).toBeNull();
    expect((await ipc.invoke(PAGE, 'runs.list', [])).result).toEqual([]);
    expect((await ipc.invoke(PAGE, 'runs.get', ['20260101-000000-x-y'])).error).toMatchObject({ name: 'RunNotFoundError' });
    expect((await ipc.invoke(PAGE, 'settings.set', [{ theme: 'light' }])).result).toMatchObject({ theme: 'light' });
  });

  it('refuses unknown methods and other senders', async () => {
    expect((await ipc.invoke(PAGE, 'shell.exec', ['rm -rf /'])).error).toMatchObject({ name: 'UnknownMethodError' });
    expect((await ipc.invoke(PAGE, '__proto__', [])).error).toMatchObject({ name: 'UnknownMethodError' });
    // Other pages, an iframe of the app's page, a window in another process showing the same file, a frame gone.
    for (const other of [frame('https://evil.example/', 9, 1), frame(APP_URL, 7, 2), frame(APP_URL, 8, 1), null]) {
      expect((await ipc.invoke(other, 'app.info', [])).error, JSON.stringify(other)).toMatchObject({ name: 'ForbiddenError' });
    }
    // The same frame as a separate object (Electron may wrap a frame afresh): trusted by its ids.
    expect((await ipc.invoke({ ...PAGE }, 'app.info', [])).result).toMatchObject({ electron: true });
  });

  it('judges the sender by frame identity, not URL text: a lower-case drive letter is the same page', () => {
    // loadURL was given C:, Chromium reports the frame's URL with c: (and may escape it differently).
    const win = {
      isDestroyed: () => false,
      mainFrame: frame('file:///c:/Program%20Files/Kiln/resources/app.asar/out/renderer/index.html', 3, 1),
    };
    const trusted = appMainFrames(() => [win]);
    expect(trusted(win.mainFrame)).toBe(true);
    expect(trusted(frame('file:///C:/Program Files/Kiln/resources/app.asar/out/renderer/index.html', 3, 5))).toBe(false);
    // Once the window is gone nothing is trusted.
    expect(appMainFrames(() => [{ ...win, isDestroyed: () => true }])(win.mainFrame)).toBe(false);
  });

  it('trusts the dev server page the same way under npm run dev', () => {
    const dev = frame('http://localhost:5173/#/train', 4, 1);
    const trusted = appMainFrames(() => [{ isDestroyed: () => false, mainFrame: dev }]);
    expect(trusted(dev)).toBe(true);
    expect(trusted(frame('http://localhost:5173/', 5, 1))).toBe(false);
  });

  it('sends events on the fixed event channel', async () => {
    const { taskId } = ((await ipc.invoke(PAGE, 'datasets.importFolder', [{ folder: home }])).result as { taskId: string }) ?? {
      taskId: '',
    };
    // The home itself is refused as an import source, so no task starts and no event is sent…
    expect(taskId).toBe('');
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-empty-import-'));
    try {
      const started = (await ipc.invoke(PAGE, 'datasets.importFolder', [{ folder }])).result as { taskId: string };
      // …an empty folder starts a task that ends in an error event.
      // Progress (a 'scan') may come first: wait for the task's last word.
      const last = () => sent.at(-1)?.[2] as { event?: { phase?: string } } | undefined;
      await expect.poll(() => last()?.event?.phase, { timeout: 20_000 }).toBe('error');
      for (const [channel, name] of sent) {
        expect(channel).toBe(IPC_EVENT);
        expect(name).toBe('datasetTask');
      }
      expect(last()).toMatchObject({ taskId: started.taskId, kind: 'import', event: { phase: 'error' } });
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
