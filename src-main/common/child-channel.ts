import type { ExitDetail } from './process-exit.ts';

/**
 * One typed channel between a host (CLI, server, the app's main process) and a child that does heavy work (a
 * trainer, a job), whatever carries it: child_process.fork, Electron's utilityProcess, or a utility process paired
 * with a GPU renderer (electron/child-transports.ts). As VS Code's ProxyChannel: the messages of each kind of child
 * are declared once (a `ChannelSpec`), the host talks to a `ChildEnd`, the child to a `ParentEnd`
 * (parent-end.ts), and neither knows the transport.
 */

/** Every message is a tagged object. */
export interface Tagged {
  type: string;
}

/**
 * One kind of child: its entry (the source file tsx runs when forked; `<entry>.js` beside the built main process
 * in the app), the messages the host sends down and the child sends up, and which of the child's messages is its
 * last (the host acknowledges it by ending the process: a utility process's port closes on exit and could drop it).
 */
export interface ChannelSpec<Down extends Tagged = Tagged, Up extends Tagged = Tagged> {
  /** 'trainer', 'job': names the process for people (Electron's serviceName, crash logs). */
  readonly name: string;
  /** The built entry's file stem (out/main/<entry>.js). */
  readonly entry: string;
  /** The TypeScript source, for child_process.fork through tsx. */
  readonly source: string;
  readonly final: readonly Up['type'][];
  /** Type carriers only; never set. */
  readonly __down?: Down;
  readonly __up?: Up;
}

export type DownOf<C> = C extends ChannelSpec<infer D, Tagged> ? D : never;
export type UpOf<C> = C extends ChannelSpec<Tagged, infer U> ? U : never;

export function defineChannel<Down extends Tagged, Up extends Tagged>(
  spec: Omit<ChannelSpec<Down, Up>, '__down' | '__up'>,
): ChannelSpec<Down, Up> {
  return spec;
}

/** How a child ended: its exit code or signal, and when the host knows more (an abnormal exit), Chromium's reason and its last stderr lines. */
export interface ChildExit {
  code: number | null;
  signal: string | null;
  detail?: ExitDetail;
}

/** The host's end of one child process. */
export interface ChildEnd<C extends ChannelSpec> {
  readonly pid?: number;
  send(message: DownOf<C>): void;
  onMessage(listener: (message: UpOf<C>) => void): void;
  /** Once, when the child is gone (after its final message, if it sent one). */
  onExit(listener: (exit: ChildExit) => void): void;
  /** Ends it at once (SIGKILL where there are signals). */
  kill(): void;
}

/** Starts a child of a kind with its arguments; each transport is one of these. */
export type Transport = <C extends ChannelSpec>(channel: C, args: string[]) => ChildEnd<C>;

/** True for the child's last message (see ChannelSpec.final). */
export function isFinal<C extends ChannelSpec>(channel: C, message: unknown): boolean {
  const type = (message as Tagged | null | undefined)?.type;
  return typeof type === 'string' && (channel.final as readonly string[]).includes(type);
}

/**
 * How long a child in an Electron utility process waits, after its final message, for the host to end it before
 * it exits on its own: the port has no delivery callback and closes on exit, so exiting at once can drop the
 * message (the utility transport ends the child once it has it).
 */
export const PARENT_CLOSE_GRACE_MS = 2_000;
