/**
 * The parts of the Electron entry's set-up that need no Electron: where Chromium keeps its own data, which
 * environment variables a packaged app ignores, and opening a settings file that may be corrupt.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

/**
 * Chromium's profile, caches, crash reports and GPU shader cache: per user, outside the Kiln home (which holds
 * datasets and runs, and may be on a shared or synced drive). Electron's default userData folder would be the same
 * as the default Kiln home (common/home.ts), so the app points userData here.
 */
export function chromiumDataDir(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  homedir = os.homedir(),
): string {
  if (platform === 'win32') return path.join(env.LOCALAPPDATA ?? path.join(homedir, 'AppData', 'Local'), 'Kiln');
  if (platform === 'darwin') return path.join(homedir, 'Library', 'Caches', 'Kiln');
  return path.join(env.XDG_CACHE_HOME ?? path.join(homedir, '.cache'), 'Kiln');
}

/** The Kiln home unless it is the same folder or one inside the other; then a sibling of it. */
export function chromiumDataDirFor(home: string, preferred = chromiumDataDir()): string {
  const inside = (a: string, b: string) => {
    const rel = path.relative(b, a);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  };
  return inside(preferred, home) || inside(home, preferred) ? `${path.resolve(home)}-chromium` : preferred;
}

/**
 * Variables for development and tests only: the dev server's address (which the IPC check would then trust) and
 * the trainer's test hooks. A packaged app drops them before anything reads them or a child inherits them.
 */
export function isDevOnlyEnv(name: string): boolean {
  return name === 'ELECTRON_RENDERER_URL' || name === 'KILN_PAUSE_AT_STEP' || name.startsWith('KILN_TEST_');
}

export function stripDevEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const removed = Object.keys(env).filter(isDevOnlyEnv);
  for (const name of removed) delete env[name];
  return removed;
}

/**
 * Opens a store whose file may be unreadable (a crash mid-write by another program, a hand edit): the bad file is
 * renamed to `<file>.corrupt-<time>` beside it, kept for the user, and the store opens again with its defaults.
 * `open` must read the file (electron-store does in its constructor).
 */
export function openRecovering<T>(file: string, open: () => T): { value: T; keptAside?: string; error?: unknown } {
  try {
    return { value: open() };
  } catch (error) {
    if (!fs.existsSync(file)) throw error;
    const keptAside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    fs.renameSync(file, keptAside);
    return { value: open(), keptAside, error };
  }
}

/**
 * Downloads use Node's https, which trusts only the CA list Node was built with; behind a corporate TLS proxy the
 * company's CA is in the system store instead. Where this Node can read that store and change its defaults
 * (Node 22.19+), trust both. Answers whether it could.
 */
export function trustSystemCertificates(): boolean {
  const t = tls as typeof tls & { getCACertificates?: (which: string) => string[]; setDefaultCACertificates?: (certs: string[]) => void };
  if (typeof t.getCACertificates !== 'function' || typeof t.setDefaultCACertificates !== 'function') return false;
  t.setDefaultCACertificates([...new Set([...t.getCACertificates('default'), ...t.getCACertificates('system')])]);
  return true;
}
