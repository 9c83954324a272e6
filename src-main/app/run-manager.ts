import type { RunConfig } from '../../src-shared/run-config.ts';
import { createRun } from '../training/create-run.ts';
import { TrainerHandle } from '../training/trainer-client.ts';
import { FORK } from '../common/fork-transport.ts';
import type { ChildExit, Transport } from '../common/child-channel.ts';
import type { TrainerMessage } from '../../src-shared/trainer-protocol.ts';
import { RunStore } from '../runs/run-store.ts';
import { resumeRunCheck, RunStateError, stopRun } from '../runs/run-lifecycle.ts';
import type { RunRecord } from '../../src-shared/run-types.ts';
import type { KilnEvents } from '../../src-shared/contract.ts';
import type { DailyLog } from './daily-log.ts';
import { stderrTailForLog } from '../common/process-exit.ts';
import { settleDeadTrainer } from '../training/trainer-death.ts';
import { checkRunFits } from '../training/run-memory.ts';

type Emit = <E extends keyof KilnEvents>(event: E, payload: KilnEvents[E]) => void;

export { RunStateError };

/**
 * The trainers this host started: one process per training run, so a crash or an out-of-memory
 * there marks that run failed and the host carries on. Trainer messages become contract events.
 */
export class RunManager {
  private readonly live = new Map<string, TrainerHandle>();
  /** Resumes between their checks and their launch: a second resume of the same run is refused at once. */
  private readonly starting = new Set<string>();
  /** Trainers this host killed (a pause or stop past its timeout): their SIGKILL is not an out-of-memory. */
  private readonly killed = new WeakSet<TrainerHandle>();
  /** Each trainer's end as this host handles it (status recorded, event sent). */
  private readonly settling = new WeakMap<TrainerHandle, Promise<void>>();
  readonly store: RunStore;

  constructor(
    readonly home: string,
    private readonly emit: Emit,
    private readonly log: DailyLog,
    /** How trainers are started: forked here; utility processes or the GPU trainer page in the app. */
    private readonly spawner: Transport = FORK,
    /** How long a trainer may take to honour pause or stop (finish its step, checkpoint) before it is killed. */
    private readonly stopTimeoutMs = 120_000,
    /** Trainers at once: each holds a model, its data and a backend; more are refused with a reason. */
    private readonly maxTrainers = 8,
  ) {
    this.store = new RunStore(home);
  }

  private assertRoom(): void {
    const busy = this.live.size + this.starting.size;
    if (busy >= this.maxTrainers) {
      throw new RunStateError(
        `${busy} runs are already training in this Kiln (at most ${this.maxTrainers} at once); pause or stop one first`,
      );
    }
  }

  /** Wait for the trainer to end; past the timeout, kill it (SIGKILL) and wait for that. True if it ended by itself. */
  private async endWithin(handle: TrainerHandle, what: string): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.stopTimeoutMs)));
    const result = await Promise.race([handle.done.then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (result === 'done') return true;
    this.log.warn(`run ${handle.runId}: the trainer did not ${what} within ${this.stopTimeoutMs} ms; killed it`);
    this.killed.add(handle);
    handle.kill();
    await handle.done;
    return false;
  }

  isLive(id: string): boolean {
    return this.live.has(id);
  }

  liveIds(): string[] {
    return [...this.live.keys()];
  }

  async start(config: RunConfig, name?: string): Promise<RunRecord> {
    this.assertRoom();
    const slot = `new:${Math.random()}`;
    this.starting.add(slot);
    let record: RunRecord;
    try {
      record = await createRun(this.home, config, name);
    } finally {
      this.starting.delete(slot);
    }
    this.launch(record.id);
    this.log.info(`run ${record.id}: started`);
    return record;
  }

  async resume(id: string): Promise<RunRecord> {
    // Checked and claimed with no await in between: ten concurrent resumes start one trainer.
    if (this.live.has(id) || this.starting.has(id)) throw new RunStateError(`run ${id} is already training`);
    this.assertRoom();
    this.starting.add(id);
    try {
      // The same rules as `kiln runs resume`: paused, interrupted, queued or failed, and no live trainer.
      const record = await resumeRunCheck(this.store, id);
      // A model this machine cannot hold would only be killed again: said now, before a trainer starts.
      await checkRunFits(this.home, record);
      this.launch(id);
      this.log.info(`run ${id}: resumed`);
      return record;
    } finally {
      this.starting.delete(id);
    }
  }

  /** Ask the run's trainer to checkpoint and pause; resolves once it has. */
  async pause(id: string): Promise<void> {
    const handle = await this.liveHandle(id, 'pause');
    handle.pause();
    if (!(await this.endWithin(handle, 'pause'))) {
      throw new RunStateError(
        `run ${id} did not pause within ${Math.round(this.stopTimeoutMs / 1000)} s, so its trainer was killed; resume it to continue from its last checkpoint`,
      );
    }
  }

  /**
   * End a run for good. A trainer of this host is asked to stop; otherwise as `kiln runs stop`: a
   * trainer of another local process (the CLI) is paused first, then the run is marked stopped.
   */
  async stop(id: string): Promise<void> {
    const handle = this.live.get(id);
    if (handle) {
      handle.stop();
      if (await this.endWithin(handle, 'stop')) {
        // Answered with how the run really ended: a trainer that failed or crashed while stopping did not stop.
        await this.settling.get(handle);
        const record = await this.store.get(id);
        if (record.status === 'stopped' || record.status === 'finished') return;
        throw new RunStateError(
          `run ${id} did not stop cleanly: it ended ${record.status}${record.error ? ` (${record.error.message})` : ''}`,
        );
      }
      // Killed: the run is still to be ended for good, as asked.
      await this.settling.get(handle);
    }
    const { already } = await stopRun(this.store, id);
    if (!already) this.emit('runStatus', { runId: id, status: 'stopped' });
  }

  async remove(id: string): Promise<void> {
    if (this.live.has(id)) throw new RunStateError(`run ${id} is training; stop it before removing it`);
    await this.store.remove(id);
  }

  /** Pause every live run and wait for their checkpoints (Ctrl-C on `kiln serve`, quitting the app). */
  async pauseAll(timeoutMs = 60_000): Promise<string[]> {
    const ids = this.liveIds();
    const handles = ids.map((id) => this.live.get(id)!);
    for (const h of handles) h.pause();
    const settled = handles.map((h) => this.settling.get(h));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const all = Promise.all(handles.map((h) => h.done)).then(() => 'done' as const);
    const result = await Promise.race([all, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      // Killed trainers leave 'running' runs; the next start's recovery marks them interrupted.
      for (const h of handles) {
        this.killed.add(h);
        h.kill();
      }
      await Promise.all(settled);
      this.log.warn(`pauseAll: trainers did not pause within ${timeoutMs} ms; killed them`);
    }
    return ids;
  }

  private async liveHandle(id: string, what: string): Promise<TrainerHandle> {
    const handle = this.live.get(id);
    if (handle) return handle;
    const record = await this.store.get(id);
    throw new RunStateError(`cannot ${what} run ${id}: it is ${record.status}, not training in this Kiln`);
  }

  private launch(id: string): void {
    const handle = new TrainerHandle(this.home, id, this.spawner);
    this.live.set(id, handle);
    let exit: ChildExit | undefined;
    let started = false;
    handle.on('exit', (e) => (exit = e));
    handle.on('message', (m: TrainerMessage) => {
      if (m.type === 'started') started = true;
      this.forward(m);
    });
    // The final status goes out once the process has exited, so a client that reacts to it
    // (resume a paused run) finds the run no longer live.
    const settling = handle.done.then(async (result) => {
      this.live.delete(id);
      const m = result.message;
      if (m?.type === 'done') {
        this.log.info(`run ${id}: ${m.outcome}`);
        this.emit('runStatus', { runId: id, status: m.outcome });
        return;
      }
      if (m?.type === 'error') {
        this.log.error(`run ${id}: failed: ${m.error.name}: ${m.error.message}`);
        this.emit('runStatus', { runId: id, status: 'failed', error: { name: m.error.name, message: m.error.message } });
        return;
      }
      // No 'done' or 'error' came: a lost last message, or a dead process (trainer-death.ts).
      const end = await settleDeadTrainer(this.store, id, exit, { started, killedByHost: this.killed.has(handle) });
      if (end.lost === 'message') {
        this.log.warn(`run ${id}: the trainer's last message was lost; it recorded the run ${end.status}`);
        this.emit('runStatus', { runId: id, status: end.status, ...(end.error ? { error: end.error } : {}) });
        return;
      }
      this.log.error(`run ${id}: ${end.error.message}`, stderrTailForLog(exit?.detail));
      if (end.unrecorded) this.log.error(`run ${id}: could not record the crash`, end.unrecorded);
      this.emit('runStatus', { runId: id, status: 'failed', error: end.error });
    });
    this.settling.set(handle, settling);
  }

  private forward(m: TrainerMessage): void {
    if (m.type === 'started') this.emit('runStatus', { runId: m.runId, status: 'running' });
    else if (m.type === 'progress') this.emit('runProgress', m.progress);
    else if (m.type === 'epoch') this.emit('runEpoch', { runId: m.runId, metrics: m.metrics });
  }
}
