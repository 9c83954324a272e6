import { SvelteMap } from 'svelte/reactivity';
import type { KilnEvents } from '../../../src-shared/contract.ts';
import type { RunRecord, StepMetric, EpochMetric } from '../../../src-shared/run-types.ts';
import type { TrainerProgress } from '../../../src-shared/trainer-protocol.ts';
import { api } from '../lib/api.ts';
import { errorMessage } from '../lib/errors.ts';

export type { RunRecord };

export interface StepPoint {
  step: number;
  epoch: number;
  loss: number | null;
  lr: number;
  momentum: number;
}

export type EpochPoint = Pick<
  EpochMetric,
  'epoch' | 'step' | 'trainLoss' | 'trainAcc' | 'valLoss' | 'valAcc' | 'ttaAcc' | 'lr' | 'imagesPerSec'
>;

/**
 * One run as the Train view follows it: the stored metrics (so a reload loses nothing) plus what the
 * live events add. The point arrays are plain (a run logs thousands of steps; proxying each would cost
 * more than the plot); `version` is the reactive signal that they changed.
 */
export class LiveRun {
  #record = $state.raw<RunRecord | null>(null);
  /** When the record was last read (ms): a running run's training time counts on from here. */
  recordAt = $state(0);
  progress = $state.raw<TrainerProgress | null>(null);
  version = $state(0);
  error = $state('');
  actionError = $state('');
  /** The error's name: a RunLockedError offers the manual unlock. */
  actionErrorName = $state('');
  busy = $state(false);
  steps: StepPoint[] = [];
  epochs: EpochPoint[] = [];

  constructor(readonly id: string) {}

  get record(): RunRecord | null {
    return this.#record;
  }

  set record(r: RunRecord | null) {
    this.#record = r;
    this.recordAt = Date.now();
  }

  async load(): Promise<void> {
    try {
      const [record, metrics] = await Promise.all([api.call('runs.get', this.id), api.call('runs.metrics', this.id)]);
      this.record = record;
      // Live events may have arrived while loading: keep the ones past what the file has.
      const lastStep = metrics.steps.at(-1)?.step ?? -1;
      const lastEpoch = metrics.epochs.at(-1)?.epoch ?? -1;
      this.steps = [...metrics.steps.map(stepPoint), ...this.steps.filter((s) => s.step > lastStep)];
      this.epochs = [...metrics.epochs, ...this.epochs.filter((e) => e.epoch > lastEpoch)];
      this.version++;
      this.error = '';
    } catch (err) {
      this.error = errorMessage(err);
    }
  }

  addProgress(p: TrainerProgress): void {
    this.progress = p;
    const last = this.steps.at(-1);
    if (!last || p.step > last.step) {
      this.steps.push({ step: p.step, epoch: p.epoch, loss: Number.isFinite(p.loss) ? p.loss : null, lr: p.lr, momentum: p.momentum });
      this.version++;
    }
  }

  addEpoch(m: KilnEvents['runEpoch']['metrics']): void {
    const last = this.epochs.at(-1);
    if (!last || m.epoch > last.epoch) {
      this.epochs.push(m);
      this.version++;
    }
  }
}

function stepPoint(s: StepMetric): StepPoint {
  return { step: s.step, epoch: s.epoch, loss: s.loss, lr: s.lr, momentum: s.momentum };
}

export const ACTIVE_STATUSES: readonly RunRecord['status'][] = ['queued', 'running'];

class RunsState {
  list = $state.raw<RunRecord[]>([]);
  /** When `list` was read (Date.now()): a running run's time counts on from there. */
  listAt = $state(0);
  listError = $state('');
  loaded = $state(false);
  /** The last progress event of each run, whether followed or not: the runs table's progress column. */
  latest = new SvelteMap<string, TrainerProgress>();
  private live = new Map<string, LiveRun>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    api.on('runProgress', (p) => {
      this.latest.set(p.runId, p);
      this.live.get(p.runId)?.addProgress(p);
    });
    api.on('runEpoch', (e) => void this.onEpoch(e));
    api.on('runStatus', (s) => void this.onStatus(s));
  }

  async refresh(): Promise<void> {
    try {
      const list = await api.call('runs.list');
      this.list = list.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      this.listAt = Date.now();
      this.listError = '';
    } catch (err) {
      this.listError = errorMessage(err);
    }
    this.loaded = true;
  }

  /** The run to follow, loading its metrics the first time. */
  follow(id: string): LiveRun {
    let run = this.live.get(id);
    if (!run) {
      run = new LiveRun(id);
      this.live.set(id, run);
      void run.load();
    }
    return run;
  }

  /** A run training now, else the newest: what the Train view shows when no run is named. */
  current(): RunRecord | null {
    return (
      this.list.find((r) => ACTIVE_STATUSES.includes(r.status)) ?? this.list.find((r) => r.status === 'paused') ?? this.list[0] ?? null
    );
  }

  async act(id: string, action: 'pause' | 'resume' | 'stop' | 'unlock'): Promise<void> {
    const run = this.follow(id);
    run.actionError = '';
    run.actionErrorName = '';
    run.busy = true;
    try {
      if (action === 'pause') await api.call('runs.pause', id);
      else if (action === 'resume') {
        run.progress = null;
        run.record = await api.call('runs.resume', id);
      } else if (action === 'unlock') run.record = await api.call('runs.unlock', id);
      else await api.call('runs.stop', id);
    } catch (err) {
      run.actionError = errorMessage(err);
      run.actionErrorName = (err as { name?: string }).name ?? '';
    } finally {
      run.busy = false;
    }
    this.scheduleRefresh();
  }

  rename(id: string, name: string): Promise<string> {
    return this.updateRecord(id, () => api.call('runs.rename', id, name));
  }

  annotate(id: string, a: { notes?: string; tags?: string[] }): Promise<string> {
    return this.updateRecord(id, () => api.call('runs.annotate', id, a));
  }

  /** Runs a call that answers with the run's new record and shows that record everywhere; '' or the error. */
  private async updateRecord(id: string, call: () => Promise<RunRecord>): Promise<string> {
    try {
      const record = await call();
      this.list = this.list.map((r) => (r.id === id ? record : r));
      const live = this.live.get(id);
      if (live) live.record = record;
      return '';
    } catch (err) {
      return errorMessage(err);
    }
  }

  async remove(id: string): Promise<string> {
    try {
      await api.call('runs.remove', id);
      this.live.delete(id);
      this.latest.delete(id);
      this.list = this.list.filter((r) => r.id !== id);
      return '';
    } catch (err) {
      return errorMessage(err);
    }
  }

  /**
   * The trainer updates run.json (best, final, training time) before it sends the epoch: reload the
   * record and the list so the live stats and the Runs table move while a run trains, not only when it stops.
   */
  private async onEpoch(e: KilnEvents['runEpoch']): Promise<void> {
    const live = this.live.get(e.runId);
    live?.addEpoch(e.metrics);
    if (live) {
      try {
        live.record = await api.call('runs.get', e.runId);
      } catch {
        /* gone; the list refresh says so */
      }
    }
    this.scheduleRefresh();
  }

  private async onStatus(s: KilnEvents['runStatus']): Promise<void> {
    const live = this.live.get(s.runId);
    if (live) {
      if (s.error) live.error = s.error.message;
      try {
        live.record = await api.call('runs.get', s.runId);
      } catch {
        /* the run may be gone (deleted); the list refresh will say so */
      }
    }
    this.scheduleRefresh();
  }

  /** Status events come in bursts (start, epoch, finish): one list reload for a burst. */
  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), 100);
  }
}

export const runs = new RunsState();
