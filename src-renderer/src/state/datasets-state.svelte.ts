import type { DatasetInfo, FolderInspection, KilnEvents } from '../../../src-shared/contract.ts';
import { api } from '../lib/api.ts';
import { errorMessage, errorsByField } from '../lib/errors.ts';
import { toBase64, worthSending, type FolderFile } from '../lib/folder-files.ts';

/** Bytes per upload message (sent as base64, a third larger): well under the server's message limit. */
const UPLOAD_CHUNK = 1024 * 1024;
/** Files sent at once: enough to hide the round trips of many small photos. */
const UPLOAD_PARALLEL = 4;

/** A folder being sent to the server before its import starts. */
export interface UploadProgress {
  label: string;
  files: number;
  bytes: number;
  sentFiles: number;
  sentBytes: number;
  uploadId: string | null;
  cancelled: boolean;
  startedAt: number;
}

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
  /** The stored image size and why, from the scan (kept for the rest of the task). */
  size: string;
  error: string;
  finished: boolean;
}

export interface ImportRequest {
  folder: string;
  name: string;
  /** null: the import picks it from the images (64 px for photos, 32 for small images). */
  size: number | null;
  valSplit: number;
  fit: 'crop' | 'pad';
  /** The pretrained backbone the images are for: its input size when `size` is null. */
  forBackbone?: string;
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
  upload = $state<UploadProgress | null>(null);
  /** What the last upload came to when it did not turn into an import (cancelled, refused). */
  uploadNote = $state('');
  /** What an import of the folder in the form would find (classes, files, the size it picks), before it starts. */
  inspection = $state.raw<FolderInspection | null>(null);
  /** The folder as typed that `inspection` (or the one under way) is for. */
  inspectedFor = $state('');
  inspecting = $state(false);
  /** Why the folder being typed cannot be imported (no such folder, no class sub-folders), as the path changes. */
  inspectError = $state('');
  private inspectSeq = 0;

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

  /** The default address (official host or the server's KILN_CIFAR10_URL), a mirror's, or a tarball on disk. */
  async startDownload(source: { url?: string; file?: string; sha256?: string; md5?: string } = {}): Promise<void> {
    this.downloadError = '';
    try {
      const { taskId } = await api.call('datasets.downloadCifar10', source);
      this.addTask(taskId, 'download', source.file ? 'CIFAR-10 from a file' : 'CIFAR-10 download');
    } catch (err) {
      this.downloadError = errorMessage(err);
    }
  }

  /** Look at the folder in the form; an answer for a folder typed since is dropped. */
  async inspect(folderArg: string): Promise<void> {
    const seq = ++this.inspectSeq;
    const folder = folderArg.trim();
    this.inspection = null;
    this.inspectedFor = folder;
    this.inspecting = Boolean(folder);
    this.inspectError = '';
    // The last Import's complaint about the path (at the field, or the whole form's) was about the path as it was then.
    if (this.importErrors.folder || this.importErrors['']) this.importErrors = { ...this.importErrors, folder: '', '': '' };
    if (!folder) return;
    try {
      const found = await api.call('datasets.inspectFolder', folder);
      if (seq === this.inspectSeq) this.inspection = found;
    } catch (err) {
      if (seq === this.inspectSeq) this.inspectError = errorMessage(err);
    } finally {
      if (seq === this.inspectSeq) this.inspecting = false;
    }
  }

  async startImport(req: ImportRequest, emptyHint: string): Promise<boolean> {
    this.importErrors = {};
    this.uploadNote = '';
    const folder = req.folder.trim();
    if (!folder) {
      this.importErrors = { folder: emptyHint };
      return false;
    }
    try {
      const { taskId } = await api.call('datasets.importFolder', {
        folder,
        name: req.name.trim() || undefined,
        size: req.size ?? undefined,
        ...(req.forBackbone ? { forBackbone: req.forBackbone } : {}),
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

  /**
   * Send a folder's files to the server (a browser cannot name a path on the server), then import
   * them exactly as a local folder: same scan, same skipped-file report, same progress and cancel.
   */
  async startUpload(all: FolderFile[], req: Omit<ImportRequest, 'folder'>): Promise<boolean> {
    this.importErrors = {};
    this.uploadNote = '';
    const files = all.filter(worthSending);
    if (!files.length) {
      this.importErrors = { folder: 'Nothing to upload: the folder has no files.' };
      return false;
    }
    const tops = new Set(files.map((f) => (f.path.includes('/') ? f.path.split('/')[0] : '')));
    const top = tops.size === 1 ? [...tops][0] || null : null;
    const name = req.name.trim() || top || undefined;
    const bytes = files.reduce((a, f) => a + f.file.size, 0);
    this.upload = {
      label: top ?? `${files.length} files`,
      files: files.length,
      bytes,
      sentFiles: 0,
      sentBytes: 0,
      uploadId: null,
      cancelled: false,
      startedAt: Date.now(),
    };
    const up = this.upload;
    // A reload or a closed window leaves no one to finish the upload: say so (the app's IPC has no connection to close).
    const onLeave = () => {
      up.cancelled = true;
      if (up.uploadId) void api.call('datasets.uploadCancel', up.uploadId).catch(() => undefined);
    };
    window.addEventListener('pagehide', onLeave);
    try {
      const { uploadId } = await api.call('datasets.uploadBegin', { files: files.length, bytes, ...(name ? { name } : {}) });
      up.uploadId = uploadId;
      let next = 0;
      const worker = async () => {
        while (!up.cancelled && next < files.length) await this.sendFile(up, uploadId, files[next++]!);
      };
      await Promise.all(Array.from({ length: UPLOAD_PARALLEL }, worker));
      if (up.cancelled) return false;
      const { taskId } = await api.call('datasets.importUpload', uploadId, {
        ...(name ? { name } : {}),
        size: req.size ?? undefined,
        ...(req.forBackbone ? { forBackbone: req.forBackbone } : {}),
        valSplit: req.valSplit,
        fit: req.fit,
      });
      this.addTask(taskId, 'import', `Import of ${up.label} (uploaded)`);
      return true;
    } catch (err) {
      if (up.cancelled) return false;
      const message = errorMessage(err);
      if (/dataset named/.test(message)) this.importErrors = { name: message };
      else this.uploadNote = `Upload failed: ${message}`;
      if (up.uploadId) void api.call('datasets.uploadCancel', up.uploadId).catch(() => undefined);
      return false;
    } finally {
      window.removeEventListener('pagehide', onLeave);
      if (this.upload === up) this.upload = null;
    }
  }

  private async sendFile(up: UploadProgress, uploadId: string, f: FolderFile): Promise<void> {
    for (let offset = 0; offset < f.file.size || offset === 0; offset += UPLOAD_CHUNK) {
      if (up.cancelled) return;
      const bytes = new Uint8Array(await f.file.slice(offset, offset + UPLOAD_CHUNK).arrayBuffer());
      await api.call('datasets.uploadChunk', uploadId, f.path, offset, toBase64(bytes));
      up.sentBytes += bytes.length;
      if (f.file.size === 0) break;
    }
    up.sentFiles++;
  }

  async cancelUpload(): Promise<void> {
    const up = this.upload;
    if (!up) return;
    up.cancelled = true;
    this.upload = null;
    this.uploadNote = 'Upload cancelled; nothing was imported.';
    if (up.uploadId) await api.call('datasets.uploadCancel', up.uploadId).catch(() => undefined);
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

  /** Leave an image out of new runs (or take it back); the open dataset's list follows. Returns an error message or ''. */
  async setExcluded(id: string, split: 'train' | 'val', index: number, on: boolean): Promise<string> {
    try {
      const excluded = await api.call('datasets.setExcluded', id, split, index, on);
      if (this.detail?.manifest.id === id) this.detail = { ...this.detail, excluded };
      return '';
    } catch (err) {
      return errorMessage(err);
    }
  }

  /** Give an image another class in new runs (null moves it back); the open dataset's lists follow. Returns an error message or ''. */
  async setMoved(id: string, split: 'train' | 'val', index: number, to: number | null): Promise<string> {
    try {
      await api.call('datasets.setMoved', id, split, index, to);
      // The class counts follow a move, so the whole description is read again.
      if (this.detail?.manifest.id === id) this.detail = await api.call('datasets.get', id);
      return '';
    } catch (err) {
      return errorMessage(err);
    }
  }

  /** The runs trained on a dataset, named in the delete confirmation; null if they cannot be listed. */
  async usage(id: string): Promise<{ id: string; name: string }[] | null> {
    try {
      return (await api.call('datasets.usage', id)).runs;
    } catch {
      return null;
    }
  }

  /** `confirmed`: the person saw which runs use it and chose to delete it anyway. */
  async remove(id: string, confirmed = false): Promise<string> {
    try {
      await api.call('datasets.remove', id, { force: confirmed });
      if (this.detail?.manifest.id === id) this.detail = null;
      await this.refresh();
      return '';
    } catch (err) {
      return errorMessage(err);
    }
  }

  private addTask(taskId: string, kind: DatasetTask['kind'], label: string): void {
    if (this.tasks.some((t) => t.taskId === taskId)) return;
    this.tasks.push({ taskId, kind, label, event: null, skipped: 0, size: '', error: '', finished: false });
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
    if (e.event.phase === 'scan' && e.event.imageSize !== undefined) {
      const s = e.event.imageSize;
      const why = e.event.sizeReason ?? '';
      task.size =
        e.event.sizeChosen !== 'auto'
          ? `Stored at ${s}×${s} px as chosen${why ? ` (${why})` : ''}`
          : `Stored at ${s}×${s} px${why ? `: ${why}` : ''}`;
    }
    if (e.event.phase === 'error') {
      task.error = e.event.error.message;
      task.finished = true;
    }
    if (e.event.phase === 'done') {
      task.finished = true;
      // An earlier attempt's errors do not describe the form any more.
      this.importErrors = {};
      this.uploadNote = '';
      void this.refresh();
    }
  }
}

export const datasets = new DatasetsState();
