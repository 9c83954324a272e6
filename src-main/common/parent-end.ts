import { PARENT_CLOSE_GRACE_MS, type ChannelSpec, type DownOf, type UpOf } from './child-channel.ts';
import { dieWithParent } from './parent-watchdog.ts';

/** A port handed over by the host with a message (Electron's MessagePortMain in a utility process). */
export interface TransferredPort {
  on(event: 'message', listener: (e: { data: unknown; ports?: unknown[] }) => void): void;
  on(event: 'close', listener: () => void): void;
  postMessage(message: unknown, transfer?: unknown[]): void;
  start(): void;
  close(): void;
}

interface UtilityParentPort {
  on(event: 'message', listener: (e: { data: unknown; ports?: TransferredPort[] }) => void): void;
  postMessage(message: unknown): void;
}

/** The child's end of its channel (child-channel.ts), over Electron's process.parentPort or fork's process.send. */
export interface ParentEnd<C extends ChannelSpec> {
  /** False when nothing started this process as a child (run by hand): there is no one to send to. */
  readonly attached: boolean;
  /** Resolves once the message is on its way (fork: handed to the IPC channel; a utility process: posted). */
  send(message: UpOf<C>): Promise<void>;
  onMessage(listener: (message: DownOf<C>) => void): void;
  /** The first port the host hands over (the GPU trainer page's, electron/gpu-renderer-transport.ts). */
  port(): Promise<TransferredPort>;
  /** The host went away (fork's 'disconnect'; a utility process re-parented): it can no longer be asked. */
  onParentGone(listener: () => void): void;
  /**
   * After the final message: exit with `code`. Over fork at once; in a utility process once the host ends it
   * (its acknowledgement, see PARENT_CLOSE_GRACE_MS), or on its own after the grace.
   */
  leave(code: number): void;
}

/**
 * Connects this process to its host. `orphanGraceMs`: once the host is gone, how long an orderly wind-down (a
 * trainer's pause checkpoint) may take before a watchdog thread kills the process, even one stuck in a kernel.
 */
export function connectParent<C extends ChannelSpec>(_channel: C, opts: { orphanGraceMs: number }): ParentEnd<C> {
  const parentPort = (process as unknown as { parentPort?: UtilityParentPort }).parentPort;
  // stderr is a pipe to the host (which drops native libraries' noise from it): a host gone away must not turn a
  // late warning into a crash.
  process.stderr.on('error', () => undefined);
  const attached = Boolean(parentPort || process.send);
  const messageListeners: ((m: DownOf<C>) => void)[] = [];
  const goneListeners: (() => void)[] = [];
  let resolvePort: (p: TransferredPort) => void = () => undefined;
  const port = new Promise<TransferredPort>((resolve) => (resolvePort = resolve));
  const deliver = (m: unknown) => {
    for (const l of messageListeners) l(m as DownOf<C>);
  };
  let gone = false;
  const parentGone = () => {
    if (gone) return;
    gone = true;
    for (const l of goneListeners) l();
  };
  if (parentPort) {
    parentPort.on('message', (e) => {
      if (e.ports?.length) resolvePort(e.ports[0]!);
      else deliver(e.data);
    });
    // A utility process gets no 'disconnect'; an orphan is re-parented, so a changed parent pid means the host is gone.
    const parentPid = process.ppid;
    setInterval(() => process.ppid !== parentPid && parentGone(), 1000).unref();
  } else if (process.send) {
    process.on('message', deliver);
    process.on('disconnect', parentGone);
  }
  if (attached) dieWithParent(opts.orphanGraceMs);
  return {
    attached,
    send(m) {
      if (parentPort) {
        parentPort.postMessage(m);
        return Promise.resolve();
      }
      return new Promise((resolve) => (process.send ? process.send(m, () => resolve()) : resolve()));
    },
    onMessage: (l) => void messageListeners.push(l),
    port: () => port,
    onParentGone: (l) => void goneListeners.push(l),
    leave(code) {
      if (!parentPort) return void process.exit(code);
      process.on('SIGTERM', () => process.exit(code));
      setTimeout(() => process.exit(code), PARENT_CLOSE_GRACE_MS);
    },
  };
}
