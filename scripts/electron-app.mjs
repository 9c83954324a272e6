#!/usr/bin/env node
/**
 * `npm start` / `npm run dev`: makes sure Electron's binary is there, then runs electron-vite (`preview` or `dev`).
 *
 * Electron 42+ no longer downloads its binary at `npm install` (npm may skip install scripts anyway): the
 * `electron` package fetches it lazily on its first `require('electron')`. electron-vite never does that require;
 * it reads node_modules/electron/path.txt and fails with "Electron uninstall" and a stack. So this runs the
 * package's own installer first (node_modules/electron/install.js, the `install-electron` command: the supported
 * way, honouring ELECTRON_MIRROR, electron_config_cache and ELECTRON_OVERRIDE_DIST_PATH as Electron documents
 * them), hands electron-vite the binary's path (ELECTRON_EXEC_PATH), and where the binary cannot be had says so in
 * one paragraph: what is missing, the command that fetches it, and where a manual download goes. No stack.
 *
 * Usage: node scripts/electron-app.mjs preview|dev [electron-vite arguments…]
 */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(path.join(ROOT, 'package.json'));
const RELEASES = 'https://github.com/electron/electron/releases/download/';

/** Prints one paragraph (wrapped for a terminal) and exits non-zero. */
function fail(paragraph) {
  const words = paragraph.split(/\s+/);
  const lines = [''];
  for (const w of words) {
    if (lines.at(-1).length + w.length + 1 > 100 && lines.at(-1)) lines.push('');
    lines[lines.length - 1] += (lines.at(-1) ? ' ' : '') + w;
  }
  process.stderr.write(`\n${lines.join('\n')}\n\n`);
  process.exit(1);
}

/** Where the executable sits inside Electron's dist folder (as the package's install.js names it). */
function platformPath(platform = process.platform) {
  if (platform === 'darwin' || platform === 'mas') return 'Electron.app/Contents/MacOS/Electron';
  if (platform === 'win32') return 'electron.exe';
  return 'electron';
}

/** A setting @electron/get reads from .npmrc (npm_config_electron_*), package.json config or ELECTRON_*. */
function electronSetting(name) {
  const e = process.env;
  return (
    e[`npm_config_electron_${name}`] ||
    e[`NPM_CONFIG_ELECTRON_${name.toUpperCase()}`] ||
    e[`npm_package_config_electron_${name}`] ||
    e[`ELECTRON_${name.toUpperCase()}`]
  );
}

/** The folder @electron/get caches downloads in (env-paths' cache folder for "electron", or electron_config_cache). */
function cacheRoot() {
  if (process.env.electron_config_cache) return path.resolve(process.env.electron_config_cache);
  const home = os.homedir();
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'electron');
  if (process.platform === 'win32') return path.join(process.env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'electron', 'Cache');
  return path.join(process.env.XDG_CACHE_HOME || path.join(home, '.cache'), 'electron');
}

/** The download's URL and where @electron/get looks for it in its cache (a folder named by the URL's hash). */
export function electronDownload(version, platform = process.platform, arch = process.arch) {
  const file = `electron-v${version}-${platform}-${arch}.zip`;
  const base = electronSetting('mirror') || RELEASES;
  const dir = (electronSetting('custom_dir') || `v${version}`).replace('{{ version }}', version);
  const url = `${base}${dir}/${file}`;
  const parsed = new URL(url);
  parsed.pathname = path.posix.dirname(parsed.pathname);
  const hash = crypto.createHash('sha256').update(parsed.toString()).digest('hex');
  return { file, url, cached: path.join(cacheRoot(), hash, file) };
}

function electronPackage() {
  try {
    const pkgFile = require.resolve('electron/package.json');
    return { dir: path.dirname(pkgFile), version: JSON.parse(fs.readFileSync(pkgFile, 'utf8')).version };
  } catch {
    return fail(
      'The `electron` package is not installed in this checkout (node_modules/electron is missing). Run `npm install` first, then `npm start` again.',
    );
  }
}

/** The executable, when it is there and is the version the package pins. */
function installedBinary({ dir, version }) {
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  if (override) {
    const exe = path.join(override, platformPath());
    return fs.existsSync(exe) ? exe : null;
  }
  const read = (f) => {
    try {
      return fs.readFileSync(path.join(dir, f), 'utf8');
    } catch {
      return null;
    }
  };
  const exe = path.join(dir, 'dist', platformPath());
  const ok = read('path.txt') === platformPath() && read('dist/version')?.replace(/^v/, '').trim() === version && fs.existsSync(exe);
  return ok ? exe : null;
}

/** Runs the electron package's installer; returns the first line of what went wrong, if it did. */
function runInstaller(pkg) {
  process.stderr.write(`Kiln: fetching Electron ${pkg.version}'s binary for ${process.platform}-${process.arch} (about 100 MB, once)…\n`);
  const result = spawnSync(process.execPath, [path.join(pkg.dir, 'install.js')], {
    stdio: ['ignore', 'inherit', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, ELECTRON_GET_NO_PROGRESS: '1' },
  });
  if (result.error) return result.error.message;
  if (result.status === 0) return null;
  // install.js prints the error's stack; its first line is the reason.
  const first = (result.stderr || '')
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('at '));
  return (first || `the installer exited with code ${result.status}`).replace(/^\w*Error:\s*/, '');
}

function main() {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode !== 'preview' && mode !== 'dev') fail('Usage: node scripts/electron-app.mjs preview|dev [electron-vite arguments]');
  const pkg = electronPackage();
  let exe = installedBinary(pkg);
  let why;
  if (!exe) {
    why = runInstaller(pkg);
    exe = installedBinary(pkg);
  }
  if (!exe) {
    const dl = electronDownload(pkg.version);
    const where = process.env.ELECTRON_OVERRIDE_DIST_PATH
      ? `${path.join(process.env.ELECTRON_OVERRIDE_DIST_PATH, platformPath())} (ELECTRON_OVERRIDE_DIST_PATH)`
      : path.join(path.relative(ROOT, pkg.dir) || pkg.dir, 'dist', platformPath());
    fail(
      `Kiln's desktop app needs Electron's own binary (Electron ${pkg.version} for ${process.platform}-${process.arch}), and it is not installed: ${where} is missing. ` +
        `Electron 42 and later download it on first use rather than at \`npm install\`, and that ${why ? `download failed (${why})` : 'install did not provide it'}. ` +
        `To fetch it, run \`npx install-electron\` on a connection that reaches ${new URL(dl.url).host} (or set ELECTRON_MIRROR to a mirror of Electron's releases first). ` +
        `To install it by hand, download ${dl.file} from ${dl.url} and put it at ${dl.cached}; the next \`npm start\` unpacks it from there. ` +
        `The command line (\`npx kiln …\`) and the browser app (\`npx kiln serve\`) need no Electron.`,
    );
  }
  const child = spawn(process.execPath, [path.join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), mode, ...rest], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, ELECTRON_EXEC_PATH: exe },
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
