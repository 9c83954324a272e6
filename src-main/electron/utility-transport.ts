import path from 'node:path';
import type { Readable } from 'node:stream';
import type { UtilityProcess } from 'electron';
import { finalStderrLines, forwardStderr } from '../common/third-party-noise.ts';
import type { ExitDetail } from '../common/process-exit.ts';
import { isFinal, type ChannelSpec, type ChildEnd, type Transport } from '../common/child-channel.ts';
import type { ProcessGoneLog } from './process-gone.ts';

type Stdio = 'inherit' | 'pipe' | 'ignore';
export type UtilityFork = (
  modulePath: string,
  args?: string[],
  options?: { serviceName?: string; stdio?: Stdio | Stdio[]; env?: NodeJS.ProcessEnv },
) => UtilityProcess;

/**
 * stderr piped and forwarded without native libraries' noise, as the fork transport does: a desktop session's
 * stderr may be a socket to the journal, where it cannot be silenced at the source. stdout stays inherited.
 */
const STDIO: Stdio[] = ['ignore', 'inherit', 'pipe'];

let serial = 0;

/** A utility process's end of the channel, with the process itself (the GPU renderer transport hands it a port). */
export interface UtilityChildEnd<C extends ChannelSpec> extends ChildEnd<C> {
  readonly process: UtilityProcess;
  /** Ends it as an acknowledgement or on purpose: its exit then carries no crash detail. */
  end(): void;
  /** Set by a transport that knows why the child has to go (its GPU page crashed): the exit detail's reason. */
  endFor(reason: string): void;
}

/**
 * One child of a kind in an Electron utility process (Chromium's process model: a crash or out-of-memory kills
 * that process only), with the crash diagnostics every kind shares: a name unique to it (Chromium's
 * child-process-gone names it so), its stderr's last lines, and on an exit the host did not ask for an ExitDetail
 * with Chromium's reason and those lines. `dir` holds the built entries (out/main). The child's final message is
 * acknowledged by ending the process: it waits for that rather than exiting at once, which could drop the message
 * (PARENT_CLOSE_GRACE_MS).
 */
export function utilityChild<C extends ChannelSpec>(
  fork: UtilityFork,
  dir: string,
  channel: C,
  args: string[],
  gone?: ProcessGoneLog,
): UtilityChildEnd<C> {
  const serviceName = `Kiln ${channel.name} ${++serial}`;
  const child = fork(path.join(dir, `${channel.entry}.js`), args, { serviceName, stdio: STDIO });
  const stderr = child.stderr ? forwardStderr(child.stderr as Readable) : undefined;
  let ended = false;
  let endReason: string | undefined;
  const end = () => {
    ended = true;
    child.kill();
  };
  child.on('message', (m: unknown) => {
    if (isFinal(channel, m)) end();
  });
  return {
    process: child,
    get pid() {
      return child.pid;
    },
    send: (m) => child.postMessage(m),
    onMessage: (l) => void child.on('message', (m: unknown) => l(m as never)),
    onExit: (l) =>
      void child.on('exit', (code: number) => {
        if (endReason)
          return void finalStderrLines(stderr).then((stderrTail) => l({ code, signal: null, detail: { reason: endReason, stderrTail } }));
        if (ended || code === 0) return l({ code, signal: null });
        void Promise.all([gone?.reasonFor(serviceName), finalStderrLines(stderr)]).then(([reason, stderrTail]) => {
          const detail: ExitDetail = { reason, stderrTail };
          l({ code, signal: null, detail });
        });
      }),
    kill: end,
    end,
    endFor: (reason) => {
      endReason ??= reason;
      end();
    },
  };
}

/** Trainers and jobs as Electron utility processes (see utilityChild). */
export function utilityTransport(fork: UtilityFork, dir: string, gone?: ProcessGoneLog): Transport {
  return (channel, args) => utilityChild(fork, dir, channel, args, gone);
}
