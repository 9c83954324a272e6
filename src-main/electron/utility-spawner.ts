import type { Readable } from 'node:stream';
import type { UtilityProcess } from 'electron';
import { forwardStderr } from '../common/third-party-noise.ts';
import type { TrainerMessage } from '../../src-shared/trainer-protocol.ts';
import type { TrainerSpawner } from '../training/trainer-client.ts';
import type { JobProcess } from '../app/job-runner.ts';

type Stdio = 'inherit' | 'pipe' | 'ignore';
type Fork = (modulePath: string, args?: string[], options?: { serviceName?: string; stdio?: Stdio | Stdio[]; env?: NodeJS.ProcessEnv }) => UtilityProcess;

/**
 * stderr piped and forwarded without native libraries' noise (Dawn's adapter warnings), as trainer-client.ts does
 * for forked trainers: a desktop session's stderr may be a socket to the journal, where it cannot be silenced at
 * the source. stdout stays inherited.
 */
const STDIO: Stdio[] = ['ignore', 'inherit', 'pipe'];

/**
 * Trainers as Electron utility processes (Chromium's process model): a crash or out-of-memory kills
 * that process only, and the run manager marks the run failed. `fork` is `utilityProcess.fork`.
 * A trainer's last message ('done' or 'error') is acknowledged by ending the process: it waits for that
 * rather than exiting at once, which could drop the message (protocol.ts, PARENT_CLOSE_GRACE_MS).
 */
export function utilityTrainerSpawner(fork: Fork, entry: string): TrainerSpawner {
  return (args) => {
    const child = fork(entry, args, { serviceName: 'Kiln trainer', stdio: STDIO });
    if (child.stderr) forwardStderr(child.stderr as Readable);
    return {
      get pid() {
        return child.pid;
      },
      send: (m) => child.postMessage(m),
      onMessage: (l) =>
        child.on('message', (m: unknown) => {
          l(m as TrainerMessage);
          const type = (m as TrainerMessage | undefined)?.type;
          if (type === 'done' || type === 'error') child.kill();
        }),
      onExit: (l) => child.on('exit', (code: number) => l(code, null)),
      kill: () => void child.kill(),
    };
  };
}

/** A job answers once; having the answer, the parent ends the process (see above). */
export function utilityJobProcess(fork: Fork, entry: string): () => JobProcess {
  return () => {
    const child = fork(entry, [], { serviceName: 'Kiln job', stdio: STDIO });
    if (child.stderr) forwardStderr(child.stderr as Readable);
    return {
      send: (m) => child.postMessage(m),
      onMessage: (l) =>
        child.on('message', (m: unknown) => {
          l(m);
          const type = (m as { type?: string } | undefined)?.type;
          if (type === 'result' || type === 'error') child.kill();
        }),
      onExit: (l) => child.on('exit', (code: number) => l(code)),
      kill: () => void child.kill(),
    };
  };
}
