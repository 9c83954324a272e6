/**
 * `npm start` on a fresh clone where Electron's binary cannot be downloaded (as here: no route to its host): the
 * launcher runs the electron package's own installer (against a loopback mirror that has nothing), then explains
 * in one paragraph what is missing, the command that fetches it and where a manual download goes, and exits
 * non-zero without a stack.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const ELECTRON_VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/electron/package.json'), 'utf8')) as { version: string })
  .version;

let tmp: string;
let server: http.Server;
let mirror: string;
const requested: string[] = [];

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-start-'));
  server = http.createServer((req, res) => {
    requested.push(req.url ?? '');
    res.writeHead(404).end('not here');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  mirror = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** `npm <args>` in the checkout with a clean environment: no Electron binary (an empty dist override), an empty download cache. */
function npm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: tmp,
    npm_config_cache: path.join(tmp, 'npm-cache'),
    npm_config_update_notifier: 'false',
    ELECTRON_OVERRIDE_DIST_PATH: path.join(tmp, 'no-electron'),
    electron_config_cache: path.join(tmp, 'electron-cache'),
    ELECTRON_MIRROR: mirror,
  };
  return new Promise((resolve) => {
    execFile('npm', args, { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm start without an Electron binary', () => {
  it('tries the supported download, then explains what is missing, how to fetch it and where a manual download goes', async () => {
    const { code, stdout, stderr } = await npm(['start']);
    const out = stdout + stderr;
    expect(code).not.toBe(0);
    const file = `electron-v${ELECTRON_VERSION}-${process.platform}-${process.arch}.zip`;
    // The electron package's installer asked the mirror for this version's zip (unless a dist of it is installed, then it had nothing to fetch).
    if (!fs.existsSync(path.join(ROOT, 'node_modules/electron/dist'))) expect(requested).toContain(`/v${ELECTRON_VERSION}/${file}`);
    const paragraph = out.replace(/\s+/g, ' ');
    expect(paragraph).toContain(`needs Electron's own binary (Electron ${ELECTRON_VERSION} for ${process.platform}-${process.arch})`);
    expect(paragraph).toContain(path.join(tmp, 'no-electron'));
    expect(paragraph).toContain('run `npx install-electron`');
    // The manual download's place is where @electron/get looks in its cache for that URL.
    const { Cache } = (await import(pathToFileURL(path.join(ROOT, 'node_modules/@electron/get/dist/Cache.js')).href)) as {
      Cache: new (root: string) => { getCachePath(url: string, file: string): string };
    };
    const cached = new Cache(path.join(tmp, 'electron-cache')).getCachePath(`${mirror}v${ELECTRON_VERSION}/${file}`, file);
    expect(paragraph).toContain(`put it at ${cached};`);
    // One paragraph, no stack.
    expect(out).not.toMatch(/^\s+at /m);
    expect(out).not.toContain('Electron uninstall');
  }, 90_000);
});
