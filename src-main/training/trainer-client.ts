import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { forkedExitDetail, forkTs } from '../common/fork-ts.ts';
import type { ExitDetail } from '../common/process-exit.ts';
import type { ParentMessage, TrainerMessage } from '../../src-shared/trainer-protocol.ts';

/** How a host starts a trainer process: fork here, Electron's utilityProcess in the app. */
export type TrainerSpawner = (args: string[]) => TrainerProcess;

export interface TrainerProcess {
  send(message: ParentMessage): void;
  onMessage(listener: (message: TrainerMessage) => void): void;
  /** `detail`, when the host knows more (an abnormal exit): Chromium's reason, the last stderr lines. */
  onExit(listener: (code: number | null, signal: string | null, detail?: ExitDetail) => void): void;
  kill(): void;
  pid?: number;
}

const ENTRY = fileURLToPath(new URL('./trainer-entry.ts', import.meta.url));

/** child_process.fork of the TypeScript entry through tsx, as the CLI and server run it. */
export const forkSpawner: TrainerSpawner = (args) => {
  const child = forkTs(ENTRY, args);
  return {
    pid: child.pid,
    send: (m) => child.connected && child.send(m),
    onMessage: (l) => child.on('message', (m) => l(m as TrainerMessage)),
    onExit: (l) =>
      child.on('exit', (code, signal) => {
        if (code === 0) l(code, signal);
        else void forkedExitDetail(child).then((detail) => l(code, signal, detail));
      }),
    kill: () => child.kill('SIGKILL'),
  };
};

export interface TrainerEvents {
  message: [TrainerMessage];
  exit: [{ code: number | null; signal: string | null; detail?: ExitDetail }];
}

/** One running trainer, as its parent sees it. */
export class TrainerHandle extends EventEmitter<TrainerEvents> {
  readonly done: Promise<{ outcome: Extract<TrainerMessage, { type: 'done' }>['outcome'] | 'failed' | 'crashed'; message?: TrainerMessage }>;
  private readonly proc: TrainerProcess;

  constructor(
    readonly home: string,
    readonly runId: string,
    spawner: TrainerSpawner = forkSpawner,
  ) {
    super();
    this.proc = spawner([home, runId]);
    let last: TrainerMessage | undefined;
    this.proc.onMessage((m) => {
      if (m.type === 'done' || m.type === 'error') last = m;
      this.emit('message', m);
    });
    this.done = new Promise((resolve) => {
      this.proc.onExit((code, signal, detail) => {
        this.emit('exit', { code, signal, detail });
        if (last?.type === 'done') resolve({ outcome: last.outcome, message: last });
        else if (last?.type === 'error') resolve({ outcome: 'failed', message: last });
        else resolve({ outcome: 'crashed' });
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  pause(): void {
    this.proc.send({ type: 'pause' });
  }

  stop(): void {
    this.proc.send({ type: 'stop' });
  }

  kill(): void {
    this.proc.kill();
  }
}
