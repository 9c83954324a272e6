import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RunConfig } from '../engine/config/run-config.ts';
import type { LrFindResult } from '../engine/train/lr-find.ts';

/** A child process running `lr-find-entry`: fork here, utilityProcess in the app. */
export interface JobProcess {
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (code: number | null) => void): void;
  kill(): void;
}

export type LrFindRunner = (home: string, config: RunConfig) => Promise<LrFindResult>;

const ENTRY = fileURLToPath(new URL('./lr-find-entry.ts', import.meta.url));

export const forkLrFindProcess = (): JobProcess => {
  const child = fork(ENTRY, [], {
    execArgv: ['--import', 'tsx', ...process.execArgv.filter((a) => a.startsWith('--max-old-space-size'))],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // A failed spawn is reported through onExit; without a listener it would throw in the host.
  child.on('error', () => undefined);
  return {
    send: (m) => child.connected && child.send(m as object),
    onMessage: (l) => child.on('message', l),
    onExit: (l) => child.on('exit', (code) => l(code)),
    kill: () => child.kill('SIGKILL'),
  };
};

export function createLrFindRunner(spawn: () => JobProcess = forkLrFindProcess): LrFindRunner {
  return (home, config) =>
    new Promise((resolve, reject) => {
      const proc = spawn();
      let answered = false;
      proc.onMessage((m) => {
        const msg = m as { type: 'result'; result: LrFindResult } | { type: 'error'; error: { name: string; message: string } };
        answered = true;
        if (msg.type === 'result') resolve(msg.result);
        else reject(Object.assign(new Error(msg.error.message), { name: msg.error.name }));
      });
      proc.onExit((code) => {
        if (!answered) reject(Object.assign(new Error(`the learning-rate finder process exited unexpectedly (exit code ${code ?? 'unknown'})`), { name: 'LrFindCrashedError' }));
      });
      proc.send({ home, config });
    });
}
