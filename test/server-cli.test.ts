import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../src-shared/run-config.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import { connectKiln } from '../src-renderer/src/lib/ws-client.ts';
import { eventLog } from './server-helpers.ts';
import { serveKiln } from './fixtures/kiln-process.ts';

const BIN = path.resolve('bin/kiln.js');
const homes: string[] = [];
const tempHome = () => {
  const h = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-serve-cli-'));
  homes.push(h);
  return h;
};
afterAll(() => homes.forEach((h) => fs.rmSync(h, { recursive: true, force: true })));

describe('kiln serve (the command)', () => {
  it('refuses a non-loopback host without --allow-remote, and a bad flag, with exit 2', () => {
    const r = spawnSync(process.execPath, [BIN, 'serve', '--host', '0.0.0.0', '--home', tempHome()], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/kiln: --host 0\.0\.0\.0 is not a loopback address; .*--allow-remote/);
    const bad = spawnSync(process.execPath, [BIN, 'serve', '--port', 'eighty'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--port: expected an integer/);
  });

  it('warns when listening beyond this machine with --allow-remote', async () => {
    const s = serveKiln(['--host', '0.0.0.0', '--allow-remote', '--home', tempHome()]);
    const url = await s.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/);
    expect(s.stderr()).toMatch(/WARNING: remote mode, listening on 0\.0\.0\.0/);
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
  }, 60_000);

  it('Ctrl-C pauses a running run (checkpoint) and exits 0', async () => {
    const home = tempHome();
    const s = serveKiln(['--home', home, '--token', 'test-token-0123456789abcdef']);
    const url = new URL(await s.url);
    expect(url.searchParams.get('token')).toBe('test-token-0123456789abcdef');
    const client = connectKiln({
      url: `ws://${url.host}/api?token=test-token-0123456789abcdef`,
      createSocket: (u) => new WebSocket(u, { origin: url.origin }) as never,
      reconnect: false,
    });
    const config: RunConfig = {
      ...DEFAULT_RUN_CONFIG,
      data: { dataset: 'synthetic', limitTrain: 512, limitVal: 64 },
      net: { arch: { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 } },
      opt: { ...DEFAULT_RUN_CONFIG.opt, epochs: 4, batchSize: 32 },
      backend: 'wasm',
    };
    const progress = eventLog(client, 'runProgress');
    const { id } = await client.call('runs.start', config);
    await progress.next((p) => p.runId === id, 120_000);
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
    expect(s.stderr()).toMatch(new RegExp(`pausing 1 running run.*\\n.*paused ${id}`, 's'));
    const record = await new RunStore(home).get(id);
    expect(record.status).toBe('paused');
    expect(fs.existsSync(path.join(new RunStore(home).checkpointDir(id), 'latest'))).toBe(true);
    client.close();
  }, 180_000);
});
