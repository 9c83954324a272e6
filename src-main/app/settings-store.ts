import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../common/atomic-write.ts';
import { DEFAULT_RUN_CONFIG, RunConfigSchema } from '../../src-shared/run-config.ts';
import type { Settings } from '../../src-shared/contract.ts';

/** The same defaults for the app (electron-store), the CLI and `kiln serve` (settings.json). */
export const DEFAULT_SETTINGS: Settings = { theme: 'system', defaultRunConfig: DEFAULT_RUN_CONFIG };

export const SettingsSchema = z.object({
  theme: z.enum(['light', 'dark', 'system']),
  lastDataset: z.string().optional(),
  defaultRunConfig: RunConfigSchema,
});

export type SettingsPatch = Partial<Settings>;

/** Where settings live: a JSON file under the Kiln home, or electron-store in the app. */
export interface SettingsStore {
  get(): Settings;
  set(patch: SettingsPatch): Promise<Settings>;
}

/**
 * Read stored settings over the defaults, field by field: a field that no longer validates (an
 * older or hand-edited file) falls back to its default instead of losing every other setting.
 */
export function settingsFrom(stored: unknown): Settings {
  const out: Settings = { ...DEFAULT_SETTINGS };
  if (!stored || typeof stored !== 'object') return out;
  const s = stored as Record<string, unknown>;
  const shape = SettingsSchema.shape;
  const theme = shape.theme.safeParse(s.theme);
  if (theme.success) out.theme = theme.data;
  const last = shape.lastDataset.safeParse(s.lastDataset);
  if (last.success && last.data !== undefined) out.lastDataset = last.data;
  const config = shape.defaultRunConfig.safeParse(s.defaultRunConfig);
  if (config.success) out.defaultRunConfig = config.data;
  return out;
}

export function applySettingsPatch(current: Settings, patch: SettingsPatch): Settings {
  const next: Settings = { ...current };
  for (const [key, value] of Object.entries(patch)) if (value !== undefined) (next as unknown as Record<string, unknown>)[key] = value;
  return SettingsSchema.parse(next) as Settings;
}

/** `<home>/settings.json`, for the CLI and the headless server. */
export class JsonSettingsStore implements SettingsStore {
  readonly file: string;
  private current: Settings;
  private writing: Promise<unknown> = Promise.resolve();

  constructor(home: string) {
    this.file = path.join(path.resolve(home), 'settings.json');
    let stored: unknown;
    try {
      stored = JSON.parse(fs.readFileSync(this.file, 'utf8'));
    } catch {
      stored = undefined;
    }
    this.current = settingsFrom(stored);
  }

  get(): Settings {
    return this.current;
  }

  async set(patch: SettingsPatch): Promise<Settings> {
    const next = applySettingsPatch(this.current, patch);
    // Writes queue so the file always ends with the latest value.
    const write = this.writing
      .catch(() => undefined)
      .then(async () => {
        await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
        await writeJsonAtomic(this.file, next);
      });
    this.writing = write;
    await write;
    this.current = next;
    return next;
  }
}
