import type { MethodResults, RunEstimate } from '../../../src-shared/contract.ts';
import type { RunConfig } from '../../../src-shared/run-config.ts';
import { api } from '../lib/api.ts';
import { errorMessage, errorsByField, withoutHome } from '../lib/errors.ts';
import { firstFieldProblem, runConfigErrors } from '../lib/run-form-fields.ts';
import { app } from './app-state.svelte.ts';
import { datasets } from './datasets-state.svelte.ts';
import { runs } from './runs-state.svelte.ts';

const DRAFT_KEY = 'kiln.trainDraft';

export type LrFindResult = MethodResults['runs.lrFind'];

/** The RunConfig being edited (kept across reloads), starting runs, and the LR finder. */
class TrainState {
  draft = $state<RunConfig | null>(null);
  name = $state('');
  /** The last refused Start's errors (the server's word), until the next edit. */
  errors = $state<Record<string, string>>({});
  /** The draft checked on every change with the schema the server validates with. */
  checked = $derived(this.draft ? runConfigErrors($state.snapshot(this.draft)) : {});
  /** What each field shows: the live check, and the server's answer for what it alone can judge. */
  shown = $derived({ ...this.errors, ...this.checked });
  /** The picked dataset is gone (deleted, or renamed away under another id). */
  datasetMissing = $derived(
    Boolean(
      this.draft &&
      datasets.loaded &&
      this.draft.data.dataset !== 'synthetic' &&
      !datasets.list.some((d) => d.id === this.draft!.data.dataset),
    ),
  );
  /** Why Start cannot go ahead now, in words; '' when it can. */
  blocker = $derived(
    !this.draft
      ? 'Loading…'
      : this.datasetMissing
        ? `The dataset “${this.draft.data.dataset}” is no longer there: pick another.`
        : firstFieldProblem(this.checked),
  );
  starting = $state(false);
  lrResult = $state.raw<LrFindResult | null>(null);
  lrFinding = $state(false);
  lrError = $state('');
  /** The range test under way: its id, steps done of all, and when it started (for the ETA). */
  lrProgress = $state<{ findId: string; step: number; steps: number; startedAt: number } | null>(null);
  lrNote = $state('');
  /** The draft's training time as it stands (past runs here, or a rough figure); null while unknown or the form cannot run. */
  estimate = $state.raw<RunEstimate | null>(null);
  private estimatesAsked = 0;
  /** In a narrow window the form folds to a summary line and its Start button; this unfolds it. */
  formOpen = $state(false);

  /** The draft from the last session, else the stored default RunConfig. */
  init(defaults: RunConfig): void {
    if (this.draft) return;
    let saved: RunConfig | null;
    try {
      saved = JSON.parse(localStorage.getItem(DRAFT_KEY) ?? 'null');
    } catch {
      saved = null;
    }
    this.draft = saved && typeof saved === 'object' && saved.opt && saved.data ? withNullAuto(saved) : structuredClone(defaults);
  }

  /** Counts edits, so a Start whose answer arrives after the person changed the form does not show stale errors. */
  private edits = 0;

  /** The form changed: the last Start's errors no longer describe it. */
  edited(): void {
    this.edits++;
    if (Object.keys(this.errors).length) this.errors = {};
    this.persist();
  }

  persist(): void {
    // A half-typed number (NaN) is not kept: JSON would turn it into null, which means auto.
    if (this.draft && !Object.keys(this.checked).length) localStorage.setItem(DRAFT_KEY, JSON.stringify($state.snapshot(this.draft)));
  }

  /** Another dataset: image limits and a typed name belonged to the last one. */
  datasetChanged(): void {
    if (!this.draft) return;
    this.draft.data.limitTrain = 0;
    this.draft.data.limitVal = 0;
    this.name = '';
    this.edited();
  }

  /** The recipe defaults, keeping the dataset picked. */
  resetToDefaults(): void {
    if (!app.settings) return;
    const dataset = this.draft?.data.dataset;
    this.draft = withNullAuto(structuredClone(app.settings.defaultRunConfig));
    if (dataset) this.draft.data.dataset = dataset;
    this.errors = {};
    this.persist();
  }

  async start(): Promise<string | null> {
    if (!this.draft || this.blocker) return null;
    this.errors = {};
    this.starting = true;
    const editsAtStart = this.edits;
    try {
      const config = $state.snapshot(this.draft) as RunConfig;
      const record = await api.call('runs.start', config, this.name.trim() || undefined);
      runs.follow(record.id).record = record;
      // The next run gets its own name (a generated one unless another is typed).
      this.name = '';
      void runs.refresh();
      // Only the dataset is remembered: the stored default config stays the recipe's, so Defaults means defaults.
      void app.saveSettings({ lastDataset: config.data.dataset });
      return record.id;
    } catch (err) {
      if (this.edits !== editsAtStart) return null;
      this.errors = errorsByField(err, 0);
      if (!Object.keys(this.errors).length) this.errors = { '': errorMessage(err) };
      if (this.errors['']) this.errors[''] = withoutHome(this.errors[''], app.info?.home);
      return null;
    } finally {
      this.starting = false;
    }
  }

  /** Asks the backend for the time estimate of `config`; an answer overtaken by a later question is dropped. */
  async refreshEstimate(config: RunConfig | null): Promise<void> {
    const asked = ++this.estimatesAsked;
    let estimate: RunEstimate | null = null;
    try {
      if (config) estimate = await api.call('runs.estimate', config);
    } catch {
      /* Start says what is wrong with the form; no estimate meanwhile */
    }
    if (asked === this.estimatesAsked) this.estimate = estimate;
  }

  async findLr(): Promise<void> {
    if (!this.draft || this.lrFinding) return;
    this.lrError = '';
    this.lrNote = '';
    this.lrFinding = true;
    const findId = `lr-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    this.lrProgress = { findId, step: 0, steps: 100, startedAt: Date.now() };
    const off = api.on('lrFindProgress', (p) => {
      if (this.lrProgress?.findId === p.findId) this.lrProgress = { ...this.lrProgress, step: p.step, steps: p.steps };
    });
    try {
      this.lrResult = await api.call('runs.lrFind', $state.snapshot(this.draft) as RunConfig, { findId });
    } catch (err) {
      const cancelled = err && typeof err === 'object' && (err as { name?: string }).name === 'AbortError';
      if (cancelled) this.lrNote = 'Cancelled.';
      else this.lrError = withoutHome(errorMessage(err), app.info?.home);
    } finally {
      off();
      this.lrFinding = false;
      this.lrProgress = null;
    }
  }

  async cancelLr(): Promise<void> {
    const id = this.lrProgress?.findId;
    if (id) await api.call('runs.lrFindCancel', id).catch((err: unknown) => (this.lrError = errorMessage(err)));
  }
}

/** A draft saved before null was the one "auto": 0 epochs / batch / LR and −1 weight decay read as auto. */
function withNullAuto(c: RunConfig): RunConfig {
  const o = c.opt;
  const auto = (v: number | null | undefined, was: number) => (v === undefined || v === was ? null : v);
  return {
    ...c,
    opt: {
      ...o,
      epochs: auto(o.epochs, 0),
      batchSize: auto(o.batchSize, 0),
      lrMax: auto(o.lrMax, 0),
      weightDecay: auto(o.weightDecay, -1),
    },
  };
}

export const train = new TrainState();
