import { EventEmitter } from 'node:events';
import { FORK } from '../common/fork-transport.ts';
import type { ChildEnd, ChildExit, Transport } from '../common/child-channel.ts';
import type { TrainerMessage } from '../../src-shared/trainer-protocol.ts';
import { TRAINER_CHANNEL, type TrainerChannel } from './trainer-channel.ts';

export interface TrainerEvents {
  message: [TrainerMessage];
  exit: [ChildExit];
}

/** One running trainer, as its parent sees it. */
export class TrainerHandle extends EventEmitter<TrainerEvents> {
  readonly done: Promise<{
    outcome: Extract<TrainerMessage, { type: 'done' }>['outcome'] | 'failed' | 'crashed';
    message?: TrainerMessage;
  }>;
  private readonly proc: ChildEnd<TrainerChannel>;

  constructor(
    readonly home: string,
    readonly runId: string,
    transport: Transport = FORK,
  ) {
    super();
    this.proc = transport(TRAINER_CHANNEL, [home, runId]);
    let last: TrainerMessage | undefined;
    this.proc.onMessage((m) => {
      if (m.type === 'done' || m.type === 'error') last = m;
      this.emit('message', m);
    });
    this.done = new Promise((resolve) => {
      this.proc.onExit((exit) => {
        this.emit('exit', exit);
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
