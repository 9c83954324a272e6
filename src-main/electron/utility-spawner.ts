import type { Readable } from 'node:stream';
import type { UtilityProcess } from 'electron';
import { finalStderrLines, forwardStderr } from '../common/third-party-noise.ts';
import type { ExitDetail } from '../common/process-exit.ts';
import type { TrainerMessage } from '../../src-shared/trainer-protocol.ts';
import type { TrainerSpawner } from '../training/trainer-client.ts';
import type { JobProcess } from '../app/job-runner.ts';
import type { ProcessGoneLog } from './process-gone.ts';

type Stdio = 'inherit' | 'pipe' | 'ignore';
type Fork = (modulePath: string, args?: string[], options?: { serviceName?: string; stdio?: Stdio | Stdio[]; env?: NodeJS.ProcessEnv }) => UtilityProcess;

/**
 * stderr piped and forwarded without native libraries' noise (Dawn's adapter warnings), as trainer-client.ts does
 * for forked trainers: a desktop session's stderr may be a socket to the journal, where it cannot be silenced at
 * the source. stdout stays inherited.
 */
const STDIO: Stdio[] = ['ignore', 'inherit', 'pipe'];

let serial = 0;

/**
 * One utility process with the crash diagnostics every kind shares: a name unique to it (Chromium's
 * child-process-gone names it so), its stderr's last lines, and on an exit the parent did not ask for, an
 * ExitDetail with Chromium's reason and those lines.
 */
function forkWatched(fork: Fork, entry: string, args: string[], kind: string, gone?: ProcessGoneLog) {
  const serviceName = `${kind} ${++serial}`;
  const child = fork(entry, args, { serviceName, stdio: STDIO });
  const stderr = child.stderr ? forwardStderr(child.stderr as Readable) : undefined;
  let ended = false;
  return {
    child,
    end(): void {
      ended = true;
      child.kill();
    },
    onExit(listener: (code: number, detail?: ExitDetail) => void): void {
      child.on('exit', (code: number) => {
        if (ended || code === 0) return listener(code);
        void Promise.all([gone?.reasonFor(serviceName), finalStderrLines(stderr)]).then(([reason, stderrTail]) => listener(code, { reason, stderrTail }));
      });
    },
  };
}

/**
 * Trainers as Electron utility processes (Chromium's process model): a crash or out-of-memory kills
 * that process only, and the run manager marks the run failed. `fork` is `utilityProcess.fork`.
 * A trainer's last message ('done' or 'error') is acknowledged by ending the process: it waits for that
 * rather than exiting at once, which could drop the message (protocol.ts, PARENT_CLOSE_GRACE_MS).
 */
export function utilityTrainerSpawner(fork: Fork, entry: string, gone?: ProcessGoneLog): TrainerSpawner {
  return (args) => {
    const p = forkWatched(fork, entry, args, 'Kiln trainer', gone);
    return {
      get pid() {
        return p.child.pid;
      },
      send: (m) => p.child.postMessage(m),
      onMessage: (l) =>
        p.child.on('message', (m: unknown) => {
          l(m as TrainerMessage);
          const type = (m as TrainerMessage | undefined)?.type;
          if (type === 'done' || type === 'error') p.end();
        }),
      onExit: (l) => p.onExit((code, detail) => l(code, null, detail)),
      kill: () => p.end(),
    };
  };
}

/** A job answers once; having the answer, the parent ends the process (see above). */
export function utilityJobProcess(fork: Fork, entry: string, gone?: ProcessGoneLog): () => JobProcess {
  return () => {
    const p = forkWatched(fork, entry, [], 'Kiln job', gone);
    return {
      send: (m) => p.child.postMessage(m),
      onMessage: (l) =>
        p.child.on('message', (m: unknown) => {
          l(m);
          const type = (m as { type?: string } | undefined)?.type;
          if (type === 'result' || type === 'error') p.end();
        }),
      onExit: (l) => p.onExit(l),
      kill: () => p.end(),
    };
  };
}
