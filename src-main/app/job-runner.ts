import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { forwardStderr } from '../common/third-party-noise.ts';
import type { RunConfig } from '../../src-shared/run-config.ts';

/** A child process running `job-entry`: fork here, utilityProcess in the app. */
export interface JobProcess {
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (code: number | null) => void): void;
  kill(): void;
}

export type JobRequest =
  | { kind: 'lrFind'; home: string; config: RunConfig; options?: { steps?: number; startLr?: number; endLr?: number } }
  | { kind: 'evaluate'; home: string; runId: string }
  | { kind: 'export'; home: string; runId: string; dir: string }
  | { kind: 'predict'; home: string; runId: string; imageBase64: string; top: number };

export type JobRunner = <T>(request: JobRequest) => Promise<T>;

const ENTRY = fileURLToPath(new URL('./job-entry.ts', import.meta.url));

export const forkJobProcess = (): JobProcess => {
  const child = fork(ENTRY, [], {
    execArgv: ['--import', 'tsx', ...process.execArgv.filter((a) => a.startsWith('--max-old-space-size'))],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  // Piped, not inherited: native libraries (Dawn) write warnings straight to fd 2, and only here can they be dropped.
  if (child.stderr) forwardStderr(child.stderr);
  // A failed spawn is reported through onExit; without a listener it would throw in the host.
  child.on('error', () => undefined);
  return {
    send: (m) => child.connected && child.send(m as object),
    onMessage: (l) => child.on('message', l),
    onExit: (l) => child.on('exit', (code) => l(code)),
    kill: () => child.kill('SIGKILL'),
  };
};

const JOB_NAMES: Record<JobRequest['kind'], string> = { lrFind: 'learning-rate finder', evaluate: 'evaluation', export: 'export', predict: 'prediction' };

/** Runs each job in a fresh process and resolves with its answer; a process that dies rejects. */
export function createJobRunner(spawn: () => JobProcess = forkJobProcess): JobRunner {
  return <T>(request: JobRequest) =>
    new Promise<T>((resolve, reject) => {
      const proc = spawn();
      let answered = false;
      proc.onMessage((m) => {
        const msg = m as { type: 'result'; result: T } | { type: 'error'; error: { name: string; message: string } };
        answered = true;
        if (msg.type === 'result') resolve(msg.result);
        else reject(Object.assign(new Error(msg.error.message), { name: msg.error.name }));
      });
      proc.onExit((code) => {
        if (!answered) reject(Object.assign(new Error(`the ${JOB_NAMES[request.kind]} process exited unexpectedly (exit code ${code ?? 'unknown'})`), { name: 'JobCrashedError' }));
      });
      proc.send(request);
    });
}
