import type { DatasetInfo, KilnEvents } from '../../../src-preload/contract.ts';
import { api } from '../lib/api.ts';
import { errorMessage, errorsByField } from '../lib/errors.ts';

export type DatasetSummary = DatasetInfo['manifest'];
type TaskEvent = KilnEvents['datasetTask']['event'];

/** One download or import the page started, with its latest progress event. */
export interface DatasetTask {
  taskId: string;
  kind: 'download' | 'import';
  label: string;
  event: TaskEvent | null;
  /** Files skipped during decode, kept once the import moves on to writing. */
  skipped: number;
  error: string;
  finished: boolean;
}

export interface ImportRequest {
  folder: string;
  name: string;
  size: number;
  valSplit: number;
  fit: 'crop' | 'pad';
}

class DatasetsState {
  list = $state.raw<DatasetSummary[]>([]);
  listError = $state('');
  loaded = $state(false);
  detail = $state.raw<DatasetInfo | null>(null);
  detailError = $state('');
  tasks = $state<DatasetTask[]>([]);
  importErrors = $state<Record<string, string>>({});
  downloadError = $state('');

  constructor() {
    api.on('datasetTask', (e) => this.onTask(e));
  }

  async refresh(): Promise<void> {
    try {
      this.list = await api.call('datasets.list');
      this.listError = '';
    } catch (err) {
      this.listError = errorMessage(err);
    }
    this.loaded = true;
  }

  async load(id: string | null): Promise<void> {
    if (!id) {
      this.detail = null;
      return;
    }
    if (this.detail?.manifest.id === id) return;
    this.detailError = '';
    try {
      this.detail = await api.call('datasets.get', id);
    } catch (err) {
      this.detail = null;
      this.detailError = errorMessage(err);
    }
  }

  async startDownload(): Promise<void> {
    this.downloadError = '';
    try {
      const { taskId } = await api.call('datasets.downloadCifar10', {});
      this.addTask(taskId, 'download', 'CIFAR-10 download');
    } catch (err) {
      this.downloadError = errorMessage(err);
    }
  }

  async startImport(req: ImportRequest): Promise<boolean> {
    this.importErrors = {};
    const folder = req.folder.trim();
    if (!folder) {
      this.importErrors = { folder: 'Type the path of a folder with one sub-folder per class, or drop one here.' };
      return false;
    }
    try {
      const { taskId } = await api.call('datasets.importFolder', {
        folder,
        name: req.name.trim() || undefined,
        size: req.size,
        valSplit: req.valSplit,
        fit: req.fit,
      });
      this.addTask(taskId, 'import', `Import of ${folder}`);
      return true;
    } catch (err) {
      this.importErrors = errorsByField(err);
      return false;
    }
  }

  async cancel(taskId: string): Promise<void> {
    try {
      await api.call('datasets.cancelTask', taskId);
    } catch (err) {
      const task = this.tasks.find((t) => t.taskId === taskId);
      if (task) task.error = errorMessage(err);
    }
  }

  dismiss(taskId: string): void {
    this.tasks = this.tasks.filter((t) => t.taskId !== taskId);
  }

  async rename(id: string, name: string): Promise<string> {
    try {
      const manifest = await api.call('datasets.rename', id, name);
      if (this.detail?.manifest.id === id) this.detail = { ...this.detail, manifest };
      await this.refresh();
      return '';
    } catch (err) {
      return errorMessage(err);
    }
  }

  async remove(id: string): Promise<string> {
    try {
      await api.call('datasets.remove', id);
      if (this.detail?.manifest.id === id) this.detail = null;
      await this.refresh();
      return '';
    } catch (err) {
      return errorMessage(err);
    }
  }

  private addTask(taskId: string, kind: DatasetTask['kind'], label: string): void {
    if (this.tasks.some((t) => t.taskId === taskId)) return;
    this.tasks.push({ taskId, kind, label, event: null, skipped: 0, error: '', finished: false });
  }

  private onTask(e: KilnEvents['datasetTask']): void {
    let task = this.tasks.find((t) => t.taskId === e.taskId);
    if (!task) {
      // Started by another window or before a reload: show it all the same.
      this.addTask(e.taskId, e.kind, e.kind === 'download' ? 'CIFAR-10 download' : 'Folder import');
      task = this.tasks.find((t) => t.taskId === e.taskId)!;
    }
    task.event = e.event;
    if (e.event.phase === 'decode') task.skipped = e.event.skipped;
    if (e.event.phase === 'error') {
      task.error = e.event.error.message;
      task.finished = true;
    }
    if (e.event.phase === 'done') {
      task.finished = true;
      void this.refresh();
    }
  }
}

export const datasets = new DatasetsState();
