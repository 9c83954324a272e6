import type { MethodResults, PresetInfo } from '../../../src-shared/contract.ts';
import type { ArchSpec } from '../../../src-shared/arch-spec.ts';
import { api } from '../lib/api.ts';
import { errorMessage, errorsByField } from '../lib/errors.ts';

export type ArchSummary = MethodResults['archs.summarize'];
export type CustomArch = MethodResults['archs.listCustom'][number];

/** Presets, saved custom architectures, and the spec being edited with its live summary. */
class ArchsState {
  presets = $state.raw<PresetInfo[]>([]);
  custom = $state.raw<CustomArch[]>([]);
  loadError = $state('');
  /** Where the draft came from: `preset:ID`, `custom:NAME`, or '' for an edited copy. */
  source = $state('');
  draft = $state<ArchSpec | null>(null);
  summary = $state.raw<ArchSummary | null>(null);
  summarizing = $state(false);
  /** Errors from the contract, keyed by the spec field they are about ('' = the spec as a whole). */
  fieldErrors = $state<Record<string, string>>({});
  saveError = $state('');
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  async refresh(): Promise<void> {
    try {
      const [presets, custom] = await Promise.all([api.call('archs.presets'), api.call('archs.listCustom')]);
      this.presets = presets;
      this.custom = custom;
      this.loadError = '';
    } catch (err) {
      this.loadError = errorMessage(err);
    }
  }

  /** Start editing what a run config's `net.arch` names (a preset id, a saved name, or a spec). */
  pick(arch: string | ArchSpec): void {
    if (typeof arch === 'string') {
      const preset = this.presets.find((p) => p.id === arch);
      const custom = this.custom.find((c) => c.name === arch);
      const spec = preset?.spec ?? custom?.spec;
      if (!spec) return;
      this.source = preset ? `preset:${arch}` : `custom:${arch}`;
      this.draft = $state.snapshot(spec) as ArchSpec;
      this.summary = preset ? preset.summary : null;
    } else {
      // The run form's draft is a $state proxy, which structuredClone refuses (DataCloneError): snapshot copies it.
      this.draft = $state.snapshot(arch) as ArchSpec;
      // A saved architecture the form uses unchanged is that saved one, not a modified copy.
      const saved = this.custom.find((c) => c.name === this.draft!.name && JSON.stringify(c.spec) === JSON.stringify(this.draft));
      this.source = saved ? `custom:${saved.name}` : '';
      this.summary = null;
    }
    this.fieldErrors = {};
  }

  /** The draft changed: its source is now an edited copy and the summary is recomputed shortly. */
  edited(imageSize: number, numClasses: number): void {
    if (this.source.startsWith('preset:')) {
      const preset = this.presets.find((p) => `preset:${p.id}` === this.source);
      if (preset && JSON.stringify(preset.spec) !== JSON.stringify($state.snapshot(this.draft))) this.source = '';
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.summarize(imageSize, numClasses), 150);
  }

  async summarize(imageSize: number, numClasses: number): Promise<void> {
    if (!this.draft) return;
    const seq = ++this.seq;
    this.summarizing = true;
    try {
      const summary = await api.call('archs.summarize', $state.snapshot(this.draft) as ArchSpec, imageSize, numClasses);
      if (seq !== this.seq) return;
      this.summary = summary;
      this.fieldErrors = {};
    } catch (err) {
      if (seq !== this.seq) return;
      this.summary = null;
      this.fieldErrors = errorsByField(err, 0);
    } finally {
      if (seq === this.seq) this.summarizing = false;
    }
  }

  async save(name: string): Promise<boolean> {
    this.saveError = '';
    if (!this.draft) return false;
    try {
      await api.call('archs.saveCustom', name.trim(), { ...($state.snapshot(this.draft) as ArchSpec), name: name.trim() });
      this.draft.name = name.trim();
      await this.refresh();
      this.source = `custom:${name.trim()}`;
      return true;
    } catch (err) {
      const byField = errorsByField(err, 1);
      if (byField['']) this.saveError = byField[''];
      else this.fieldErrors = byField;
      return false;
    }
  }

  async remove(name: string): Promise<string> {
    try {
      await api.call('archs.removeCustom', name);
      await this.refresh();
      return '';
    } catch (err) {
      return errorMessage(err);
    }
  }
}

export const archs = new ArchsState();
