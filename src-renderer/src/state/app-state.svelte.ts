import type { KilnEvents, MethodResults, Settings } from '../../../src-shared/contract.ts';
import { api, watchConnection, type ConnectionState } from '../lib/api.ts';
import { errorMessage } from '../lib/errors.ts';

export const VIEWS = [
  { id: 'datasets', title: 'Datasets' },
  { id: 'architecture', title: 'Architecture' },
  { id: 'train', title: 'Train' },
  { id: 'runs', title: 'Runs' },
  { id: 'evaluate', title: 'Evaluate' },
] as const;
export type ViewName = (typeof VIEWS)[number]['id'];

export interface Route {
  view: ViewName;
  /** The dataset or run the view shows, when it shows one. */
  id: string | null;
}

/** The route lives in the URL hash so a reload comes back to the same view and item. */
function parseHash(hash: string): Route {
  const [view, id] = hash.replace(/^#\/?/, '').split('/');
  const known = VIEWS.find((v) => v.id === view);
  return { view: known ? known.id : 'datasets', id: id ? decodeURIComponent(id) : null };
}

class AppState {
  route = $state<Route>(parseHash(location.hash));
  info = $state.raw<MethodResults['app.info'] | null>(null);
  /** A newer release, when the desktop app's update check found one. */
  update = $state.raw<KilnEvents['appUpdate'] | null>(null);
  settings = $state.raw<Settings | null>(null);
  connection = $state<ConnectionState>('connecting');
  private wasOpen = $state(false);
  /** The server went away (or refused this page): retrying counts as lost until it is back. */
  lost = $derived(this.connection === 'refused' || (this.wasOpen && this.connection !== 'open'));
  error = $state('');
  themePreference = $state<Settings['theme']>('system');
  /** Below this width the Train view stacks its form above the plots, folded. */
  narrow = $state(matchMedia('(max-width: 1200px)').matches);
  private systemDark = $state(matchMedia('(prefers-color-scheme: dark)').matches);
  theme = $derived<'light' | 'dark'>(this.themePreference === 'system' ? (this.systemDark ? 'dark' : 'light') : this.themePreference);

  constructor() {
    addEventListener('hashchange', () => (this.route = parseHash(location.hash)));
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', (e) => {
      this.systemDark = e.matches;
      this.applyTheme();
    });
    api.on('appUpdate', (u) => (this.update = u));
    watchConnection((s) => {
      this.connection = s;
      if (s === 'open') this.wasOpen = true;
    });
    matchMedia('(max-width: 1200px)').addEventListener('change', (e) => (this.narrow = e.matches));
    this.applyTheme();
  }

  /**
   * The theme's CSS variables must be in place before any effect reacts to `theme`: charts read
   * their colours from them when they rebuild. An effect in the root component ran after the
   * charts' and left them in the old theme's colours until a reload.
   */
  private applyTheme(): void {
    document.documentElement.dataset.theme = this.theme;
  }

  async init(): Promise<void> {
    try {
      const [info, settings] = await Promise.all([api.call('app.info'), api.call('settings.get')]);
      this.info = info;
      this.settings = settings;
      this.themePreference = settings.theme;
      this.applyTheme();
    } catch (err) {
      this.error = errorMessage(err);
    }
  }

  go(view: ViewName, id: string | null = null): void {
    const hash = `#/${view}${id ? `/${encodeURIComponent(id)}` : ''}`;
    if (location.hash !== hash) location.hash = hash;
    this.route = { view, id };
  }

  async setTheme(theme: Settings['theme']): Promise<void> {
    this.themePreference = theme;
    this.applyTheme();
    try {
      this.settings = await api.call('settings.set', { theme });
    } catch (err) {
      this.error = errorMessage(err);
    }
  }

  async saveSettings(patch: Parameters<typeof api.call<'settings.set'>>[1]): Promise<void> {
    try {
      this.settings = await api.call('settings.set', patch);
    } catch (err) {
      this.error = errorMessage(err);
    }
  }
}

export const app = new AppState();
