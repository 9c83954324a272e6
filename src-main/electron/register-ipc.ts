import { IPC_EVENT, IPC_INVOKE, type EventName, type KilnEvents, type KilnHandlers } from '../../src-shared/contract.ts';
import { dispatch, type Reply } from '../app/dispatch.ts';
import type { DailyLog } from '../app/daily-log.ts';

/** What registration needs of Electron's ipcMain: passed in, so this module loads without the electron binary. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown> | unknown): void;
  removeHandler(channel: string): void;
}

/** What the sender check needs of Electron's WebFrameMain. */
export interface FrameLike {
  readonly url: string;
  readonly processId: number;
  readonly routingId: number;
}

export interface InvokeEventLike {
  senderFrame?: FrameLike | null;
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
  opts: { isTrustedSender: (frame: FrameLike | null | undefined) => boolean; log?: DailyLog },
): () => void {
  ipcMain.handle(IPC_INVOKE, async (event, method, args): Promise<Reply> => {
    const frame = event.senderFrame;
    if (!opts.isTrustedSender(frame)) {
      opts.log?.warn(`refused an IPC call from ${frame?.url || 'an unknown frame'}`);
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

/**
 * The sender must be the main frame of one of the app's windows, judged by identity: Electron hands out one
 * WebFrameMain per frame, and its process and routing ids name it. Never by URL text: a file:// URL comes back
 * from Chromium spelled differently from what loadURL was given (a Windows drive letter's case, escapes), and a
 * dev server's page could share an origin with anything else on that port. An iframe, another window, or a
 * frame that has navigated away (senderFrame null) is refused.
 */
export function appMainFrames(
  windows: () => { isDestroyed(): boolean; mainFrame: FrameLike }[],
): (frame: FrameLike | null | undefined) => boolean {
  return (frame) => {
    if (!frame) return false;
    return windows().some((wc) => {
      if (wc.isDestroyed()) return false;
      const main = wc.mainFrame;
      return main === frame || (main.processId === frame.processId && main.routingId === frame.routingId);
    });
  };
}
