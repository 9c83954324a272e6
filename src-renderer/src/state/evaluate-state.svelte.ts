import type { Evaluation, ImageItem, Prediction } from '../../../src-shared/contract.ts';
import type { ExportFormat, OnnxLayout } from '../../../src-shared/export-format.ts';
import { api } from '../lib/api.ts';
import { errorMessage } from '../lib/errors.ts';
import { toBase64 } from '../lib/folder-files.ts';

/** The evaluation of one run (stored, or computed on request), its mistakes' images, export and predictions. */
class EvaluateState {
  runId = $state<string | null>(null);
  evaluation = $state.raw<Evaluation | null>(null);
  loading = $state(false);
  evaluating = $state(false);
  error = $state('');
  mistakeImages = $state.raw<Map<number, ImageItem>>(new Map());
  exportDir = $state('');
  /** TensorFlow.js layers, or ONNX (with its input layout) for deployment outside Kiln. */
  exportFormat = $state<ExportFormat>('tfjs');
  exportLayout = $state<OnnxLayout>('nchw');
  exportResult = $state('');
  /** An export is in flight: the button says so and does not start a second one. */
  exporting = $state(false);
  exportError = $state('');
  prediction = $state.raw<Prediction | null>(null);
  predictImage = $state('');
  predictError = $state('');

  async open(runId: string): Promise<void> {
    if (this.runId === runId) return;
    this.runId = runId;
    this.evaluation = null;
    this.error = '';
    this.mistakeImages = new Map();
    this.prediction = null;
    this.predictImage = '';
    this.exportResult = '';
    this.exportError = '';
    this.loading = true;
    try {
      const ev = await api.call('runs.evaluation', runId);
      if (this.runId !== runId) return;
      this.evaluation = ev;
    } catch (err) {
      if (this.runId === runId) this.error = errorMessage(err);
    } finally {
      if (this.runId === runId) this.loading = false;
    }
  }

  async evaluate(): Promise<void> {
    const runId = this.runId;
    if (!runId) return;
    this.evaluating = true;
    this.error = '';
    try {
      const ev = await api.call('runs.evaluate', runId);
      if (this.runId !== runId) return;
      this.evaluation = ev;
    } catch (err) {
      if (this.runId === runId) this.error = errorMessage(err);
    } finally {
      this.evaluating = false;
    }
  }

  /** Validation images of the run's dataset left out of new runs. */
  excluded = $state.raw<Set<number>>(new Set());
  excludeError = $state('');

  async loadExclusions(datasetId: string): Promise<void> {
    try {
      const info = await api.call('datasets.get', datasetId);
      this.excluded = new Set(info.excluded?.val ?? []);
    } catch {
      this.excluded = new Set();
    }
  }

  async setExcluded(datasetId: string, index: number, on: boolean): Promise<void> {
    this.excludeError = '';
    try {
      const ex = await api.call('datasets.setExcluded', datasetId, 'val', index, on);
      this.excluded = new Set(ex.val);
    } catch (err) {
      this.excludeError = errorMessage(err);
    }
  }

  /** Validation images by index, fetched as the gallery needs them (a picked cell, a filter). */
  async loadImages(datasetId: string, indices: readonly number[]): Promise<void> {
    const runId = this.runId;
    const missing = indices.filter((i) => !this.mistakeImages.has(i) && !this.loading_.has(i));
    if (!missing.length) return;
    for (const i of missing) this.loading_.add(i);
    const items = await Promise.all(missing.map((i) => api.call('datasets.image', datasetId, 'val', i).catch(() => null)));
    for (const i of missing) this.loading_.delete(i);
    if (this.runId !== runId) return;
    const next = new Map(this.mistakeImages);
    for (const it of items) if (it) next.set(it.index, it);
    this.mistakeImages = next;
  }
  private loading_ = new Set<number>();

  async export(): Promise<void> {
    if (!this.runId || this.exporting) return;
    this.exportError = '';
    this.exportResult = '';
    this.exporting = true;
    try {
      const options = this.exportFormat === 'onnx' ? { format: 'onnx' as const, layout: this.exportLayout } : { format: 'tfjs' as const };
      const { dir } = await api.call('runs.export', this.runId, this.exportDir.trim(), options);
      this.exportResult = dir;
    } catch (err) {
      this.exportError = errorMessage(err);
    } finally {
      this.exporting = false;
    }
  }

  async predict(file: File): Promise<void> {
    if (!this.runId) return;
    this.predictError = '';
    this.prediction = null;
    const base64 = toBase64(new Uint8Array(await file.arrayBuffer()));
    this.predictImage = `data:${file.type || 'image/png'};base64,${base64}`;
    try {
      this.prediction = await api.call('runs.predict', this.runId, base64, 3);
    } catch (err) {
      this.predictError = errorMessage(err);
    }
  }
}

export const evaluate = new EvaluateState();
