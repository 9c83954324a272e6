import type { BackboneStatus } from '../../../src-shared/backbones.ts';
import type { DownloadProgressEvent } from '../../../src-shared/dataset-progress.ts';
import { api } from '../lib/api.ts';
import { errorMessage } from '../lib/errors.ts';

/** The pretrained backbones: what is on this machine, downloads under way, and adding a local file. */
class BackbonesState {
  list = $state.raw<BackboneStatus[]>([]);
  licenceNote = $state('');
  loadError = $state('');
  /** Downloads under way, by backbone: the last progress event (null until the first). */
  progress = $state<Record<string, DownloadProgressEvent | null>>({});
  /** The last error of each backbone's download or add. */
  errors = $state<Record<string, string>>({});
  private listening = false;

  async refresh(): Promise<void> {
    if (!this.listening) {
      this.listening = true;
      api.on('backboneProgress', (p) => {
        if (p.name in this.progress) this.progress[p.name] = p.event;
      });
    }
    try {
      const r = await api.call('backbones.list');
      this.list = r.backbones;
      this.licenceNote = r.licenceNote;
      this.loadError = '';
    } catch (err) {
      this.loadError = errorMessage(err);
    }
  }

  /** Download after the person accepted the licence note (the panel shows it first). */
  async download(name: string): Promise<void> {
    this.errors[name] = '';
    this.progress[name] = null;
    try {
      await api.call('backbones.download', name, { acceptLicence: true });
    } catch (err) {
      this.errors[name] = errorMessage(err);
    } finally {
      delete this.progress[name];
      await this.refresh();
    }
  }

  async cancel(name: string): Promise<void> {
    await api.call('backbones.cancelDownload', name).catch(() => undefined);
  }

  /** Install a local weights file; true when it was added. */
  async add(name: string, file: string, unverified: boolean): Promise<boolean> {
    this.errors[name] = '';
    try {
      await api.call('backbones.add', name, file, { unverified });
      await this.refresh();
      return true;
    } catch (err) {
      this.errors[name] = errorMessage(err);
      return false;
    }
  }
}

export const backbones = new BackbonesState();
