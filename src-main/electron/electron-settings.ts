import type { Settings } from '../../src-shared/contract.ts';
import { applySettingsPatch, DEFAULT_SETTINGS, settingsFrom, type SettingsPatch, type SettingsStore } from '../app/settings-store.ts';

export interface WindowBounds {
  x?: number;
  y?: number;
  width: number;
  height: number;
  maximized: boolean;
}

/** What the app keeps in electron-store: the settings the contract exposes, and window state. */
export interface AppStoreData {
  settings: Settings;
  windowBounds?: WindowBounds;
}

/** The part of electron-store's API used here (so this module loads without Electron). */
export interface KeyValueStore {
  get(key: 'settings'): unknown;
  set(key: 'settings', value: Settings): void;
}

/** Settings in electron-store, with the same defaults and validation as the CLI's settings.json. */
export class ElectronSettingsStore implements SettingsStore {
  constructor(private readonly store: KeyValueStore) {}

  get(): Settings {
    return settingsFrom(this.store.get('settings') ?? DEFAULT_SETTINGS);
  }

  async set(patch: SettingsPatch): Promise<Settings> {
    const next = applySettingsPatch(this.get(), patch);
    this.store.set('settings', next);
    return next;
  }
}
