import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DailyLog } from '../src-main/app/daily-log.ts';
import { remoteWarning } from '../src-main/cli/commands/serve.ts';
import { WS_TRY_AGAIN_LATER, type KilnServer } from '../src-main/server/kiln-server.ts';
import { DEFAULT_RUN_CONFIG } from '../src-shared/run-config.ts';
import { SESSION_TOKEN_KEY } from '../src-shared/session.ts';
import { connectKiln } from '../src-renderer/src/lib/ws-client.ts';
import { rawSocket, request, startTestServer } from './server-helpers.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';

/** Limits and remote-mode rules of `kiln serve`, on real loopback servers. */
function get(
  host: string,
  port: number,
  urlPath: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host, port, path: urlPath, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}
const call = (ws: WebSocket, id: number, method: string, args: unknown[]) => request(ws, JSON.stringify({ id, method, args }));

const scratch = tempHome();
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('kiln serve: limits', () => {
  let server: KilnServer;
  let cleanup: () => Promise<void>;
  let home: string;
  let api: string;
  const renderer = path.join(scratch, 'renderer');
  const secret = path.join(scratch, 'secret.txt');

  beforeAll(async () => {
    fs.mkdirSync(path.join(renderer, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(renderer, 'index.html'), '<!doctype html><title>Kiln</title>');
    fs.writeFileSync(path.join(renderer, 'assets', 'app.js'), 'console.log(1)');
    fs.writeFileSync(secret, 'private');
    fs.symlinkSync(secret, path.join(renderer, 'assets', 'leak.txt'));
    ({ server, cleanup, home } = await startTestServer({ rendererDir: renderer, maxConnections: 3, maxClientBufferBytes: 1 << 20 }));
    api = `ws://127.0.0.1:${server.port}/api?token=${server.token}`;
  });
  afterAll(async () => cleanup?.());

  it('assets need no token, the page does; no cookie; a symlink out of the renderer folder is not followed', async () => {
    const asset = await get('127.0.0.1', server.port, '/assets/app.js');
    expect(asset.status).toBe(200);
    expect(asset.headers['set-cookie']).toBeUndefined();
    expect((await get('127.0.0.1', server.port, '/')).status).toBe(401);
    expect((await get('127.0.0.1', server.port, '/index.html')).status).toBe(401);
    expect((await get('127.0.0.1', server.port, `/?token=${server.token}`)).status).toBe(200);
    const leak = await get('127.0.0.1', server.port, '/assets/leak.txt');
    expect(leak.status).toBe(404);
    expect(leak.body).not.toContain('private');
  });

  it('connections over the cap are refused with 1013; a client that does not read its replies is cut off, others carry on', async () => {
    const open = await Promise.all([0, 1, 2].map(() => rawSocket(api, server.origin)));
    const extra = await rawSocket(api, server.origin);
    expect(await extra.closed).toMatchObject({ code: WS_TRY_AGAIN_LATER, reason: expect.stringContaining('too many connections (3)') });
    for (const o of open.slice(1)) o.ws.close();
    await Promise.all(open.slice(1).map((o) => o.closed));

    // Never reads: its replies (PNG pages) pile up on the server until the cap closes it.
    const slow = open[0]!;
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    for (let i = 0; i < 25; i++) slow.ws.send(JSON.stringify({ id: i, method: 'datasets.page', args: ['synthetic', 'train', 0, 0, 200] }));
    const reader = await rawSocket(api, server.origin);
    const info = await call(reader.ws, 1, 'app.info', []);
    expect(info.error).toBeUndefined();
    const log = new DailyLog(home).fileFor();
    await expect
      .poll(() => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('closed a WebSocket that does not read its replies'), {
        timeout: 120_000,
        interval: 200,
      })
      .toBe(true);
    expect((await call(reader.ws, 2, 'app.info', [])).error).toBeUndefined();
    reader.ws.close();
  }, 180_000);

  it('string and number arguments are capped; architecture names cannot collide or hide characters', async () => {
    const { ws } = await rawSocket(api, server.origin);
    try {
      const cases: [string, unknown[], RegExp][] = [
        ['runs.export', ['some-run', '/' + 'a'.repeat(5000)], /argument 1: .*4096/],
        ['settings.set', [{ lastDataset: 'x'.repeat(1000) }], /argument 0\.lastDataset: .*200/],
        [
          'runs.start',
          [{ ...DEFAULT_RUN_CONFIG, opt: { ...DEFAULT_RUN_CONFIG.opt, startDiv: 1e308 } }],
          /argument 0\.opt\.startDiv: .*1000000/,
        ],
        ['runs.start', [{ ...DEFAULT_RUN_CONFIG, opt: { ...DEFAULT_RUN_CONFIG.opt, finalDiv: 1e308 } }], /argument 0\.opt\.finalDiv/],
        ['datasets.importFolder', [{ folder: '/' + 'a'.repeat(5000) }], /argument 0\.folder/],
      ];
      let id = 1;
      for (const [method, args, message] of cases) {
        const reply = await call(ws, id++, method, args);
        expect(reply.error, method).toMatchObject({ name: 'ValidationError', message: expect.stringMatching(message) });
      }
      const spec = { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 };
      expect((await call(ws, id++, 'archs.saveCustom', ['evil', spec])).error).toBeUndefined();
      expect((await call(ws, id++, 'archs.saveCustom', ['../../evil', { ...spec, widths: [8, 8, 8, 8] }])).error).toMatchObject({
        name: 'UsageError',
        message: 'architecture name "../../evil" is too close to the saved architecture "evil"; choose another name or remove that one',
      });
      expect((await call(ws, id++, 'archs.saveCustom', ['cat\u202Egnp.exe', spec])).error).toMatchObject({
        name: 'UsageError',
        message: expect.stringMatching(/expected 1–80 printable characters/),
      });
      expect((await call(ws, id++, 'archs.removeCustom', ['../../evil'])).error).toMatchObject({ name: 'UsageError' });
      const list = (await call(ws, id++, 'archs.listCustom', [])).result as { name: string; spec: { widths: number[] } }[];
      expect(list).toEqual([{ name: 'evil', spec: expect.objectContaining({ widths: [4, 8, 8, 8] }) }]);
    } finally {
      ws.close();
    }
  });
});

describe('kiln serve: binding and remote mode', () => {
  it('the URL printed for --host 127.0.0.2 is one the server accepts', async () => {
    const { server, cleanup } = await startTestServer({ host: '127.0.0.2' });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.2:\d+\/\?token=/);
      const u = new URL(server.url);
      expect([200, 503]).toContain((await get('127.0.0.2', server.port, u.pathname + u.search)).status);
    } finally {
      await cleanup();
    }
  });

  it('with --allow-remote: imports only under --data-root, exports only under exports/, the built-in download only', async () => {
    const root = path.join(scratch, 'data-root');
    const outside = path.join(scratch, 'elsewhere');
    fs.mkdirSync(path.join(root, 'images'), { recursive: true });
    fs.mkdirSync(outside, { recursive: true });
    fs.symlinkSync(outside, path.join(root, 'sneaky'));
    const { server, cleanup } = await startTestServer({ allowRemote: true, dataRoots: [root] });
    const { ws } = await rawSocket(`ws://127.0.0.1:${server.port}/api?token=${server.token}`, server.origin);
    try {
      const refused = [
        [outside, 'a remote Kiln imports only from under its --data-root folders'],
        [path.join(root, 'sneaky'), 'a remote Kiln imports only from under its --data-root folders'],
      ];
      let id = 1;
      for (const [folder, words] of refused) {
        expect((await call(ws, id++, 'datasets.importFolder', [{ folder }])).error).toMatchObject({
          name: 'PathNotAllowedError',
          message: expect.stringContaining(words!),
        });
      }
      // Inside the root it gets past the rule (and fails on the empty folder instead, as a task or at once).
      const inside = await call(ws, id++, 'datasets.importFolder', [{ folder: path.join(root, 'images') }]);
      expect(inside.error?.name).not.toBe('PathNotAllowedError');
      const run = await call(ws, id++, 'runs.start', [
        {
          ...DEFAULT_RUN_CONFIG,
          data: { dataset: 'synthetic', limitTrain: 64, limitVal: 32 },
          net: { arch: { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 } },
          opt: { ...DEFAULT_RUN_CONFIG.opt, epochs: 1, batchSize: 32 },
          backend: 'wasm',
        },
      ]);
      const runId = (run.result as { id: string }).id;
      expect((await call(ws, id++, 'runs.export', [runId, outside])).error).toMatchObject({
        name: 'PathNotAllowedError',
        message: expect.stringContaining('a remote Kiln exports only into folders under'),
      });
      expect((await call(ws, id++, 'runs.export', [runId, '../escape'])).error).toMatchObject({ name: 'PathNotAllowedError' });
      expect((await call(ws, id++, 'datasets.downloadCifar10', [{ url: 'http://10.0.0.1:22/x' }])).error).toMatchObject({
        name: 'UsageError',
        message: 'url http://10.0.0.1:22/x: a remote Kiln downloads CIFAR-10 only from its built-in address',
      });
      await call(ws, id++, 'runs.stop', [runId]);
    } finally {
      ws.close();
      await cleanup();
    }
  }, 180_000);

  it('the remote warning says exactly what a token holder can do', () => {
    const text = remoteWarning('0.0.0.0', '/srv/kiln', ['/data/images']);
    expect(text).toContain('import image folders from under /data/images');
    expect(text).toContain('export trained models into /srv/kiln/exports');
    expect(text).toContain('download CIFAR-10 from its built-in address (no other address)');
    expect(remoteWarning('0.0.0.0', '/srv/kiln', [])).toContain('import no server folders (no --data-root given)');
  });

  it("the browser client takes the token out of the address bar and keeps it only in this tab's sessionStorage", () => {
    const g = globalThis as unknown as Record<string, unknown>;
    let replaced = '';
    const storage = new Map<string, string>();
    g.location = { href: 'http://127.0.0.1:9/runs?token=secret-token-0123456789#x', protocol: 'http:', host: '127.0.0.1:9' };
    g.history = { state: null, replaceState: (_s: unknown, _t: string, url: string) => (replaced = url) };
    g.sessionStorage = { setItem: (k: string, v: string) => storage.set(k, v), getItem: (k: string) => storage.get(k) ?? null };
    let opened = '';
    try {
      const client = connectKiln({
        createSocket: (url) => ((opened = url), { readyState: 0, send() {}, close() {}, addEventListener() {} }) as never,
        reconnect: false,
      });
      client.close();
    } finally {
      delete g.location;
      delete g.history;
      delete g.sessionStorage;
    }
    expect(opened).toBe('ws://127.0.0.1:9/api?token=secret-token-0123456789');
    expect(replaced).toBe('/runs#x');
    // sessionStorage (this origin and tab only), so a reload keeps the session; nothing else is stored.
    expect([...storage]).toEqual([[SESSION_TOKEN_KEY, 'secret-token-0123456789']]);
  });
});
