/**
 * `kiln serve` under two floods, as a process of its own (issue 25, M3):
 * - upload flood: C connections each fire N uploadChunk calls of 4 MiB at once; the server's peak RSS (VmHWM);
 * - idle-socket flood: S TCP sockets that never send a request, then the time for a page's client to connect
 *   and get an answer (app.info).
 *
 *   npx tsx bench/server-flood.ts [--conns 4] [--chunks 64] [--idle 140]
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { connectKiln } from '../src-renderer/src/lib/ws-client.ts';
import { serveKiln } from '../test/fixtures/kiln-process.ts';

const { values } = parseArgs({
  options: { conns: { type: 'string', default: '4' }, chunks: { type: 'string', default: '64' }, idle: { type: 'string', default: '140' } },
});
const CONNS = Number(values.conns);
const CHUNKS = Number(values.chunks);
const IDLE = Number(values.idle);
const MIB = 1024 * 1024;

async function withServer<T>(fn: (url: URL, pid: number) => Promise<T>): Promise<T> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-flood-'));
  const s = serveKiln(['--home', home, '--port', '0']);
  try {
    return await fn(new URL(await s.url), s.child.pid!);
  } finally {
    s.child.kill('SIGINT');
    await s.exited;
    fs.rmSync(home, { recursive: true, force: true });
  }
}

const vmHwmMiB = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const apiUrl = (url: URL) => `ws://${url.host}/api?token=${url.searchParams.get('token')}`;

async function uploadFlood(url: URL): Promise<{ errors: number }> {
  const data = Buffer.alloc(4 * MIB, 7).toString('base64');
  let errors = 0;
  await Promise.all(
    Array.from({ length: CONNS }, async () => {
      const ws = new WebSocket(apiUrl(url), { origin: url.origin });
      await new Promise((r) => ws.once('open', r));
      const replies = new Map<number, unknown>();
      let uploadId = '';
      await new Promise<void>((resolve) => {
        ws.on('message', (d) => {
          const m = JSON.parse(d.toString()) as { id?: number; result?: { uploadId: string }; error?: unknown };
          if (m.id === 0) {
            uploadId = m.result!.uploadId;
            for (let i = 1; i <= CHUNKS; i++)
              ws.send(JSON.stringify({ id: i, method: 'datasets.uploadChunk', args: [uploadId, `c/${i}.png`, 0, data] }));
          } else if (typeof m.id === 'number') {
            replies.set(m.id, m.error);
            if (replies.size === CHUNKS) resolve();
          }
        });
        ws.send(JSON.stringify({ id: 0, method: 'datasets.uploadBegin', args: [{ files: CHUNKS, bytes: CHUNKS * 4 * MIB }] }));
      });
      errors += [...replies.values()].filter(Boolean).length;
      ws.close();
    }),
  );
  return { errors };
}

await withServer(async (url, pid) => {
  const idle = vmHwmMiB(pid);
  const t0 = performance.now();
  const { errors } = await uploadFlood(url);
  console.log(
    `upload flood: ${CONNS} connections × ${CHUNKS} chunks of 4 MiB at once: peak RSS ${vmHwmMiB(pid).toFixed(0)} MiB (idle ${idle.toFixed(0)} MiB), ${errors} errors, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
});

await withServer(async (url) => {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < IDLE; i++) {
    const s = net.connect(Number(url.port), url.hostname);
    s.on('error', () => undefined);
    sockets.push(s);
    await new Promise((r) => (s.once('connect', r), s.once('close', r)));
  }
  const t0 = performance.now();
  const client = connectKiln({
    url: apiUrl(url),
    createSocket: (u) => new WebSocket(u, { origin: url.origin }) as never,
    reconnect: false,
  });
  try {
    await client.call('app.info');
    console.log(
      `idle-socket flood: ${IDLE} idle sockets, then the page connected and was answered in ${(performance.now() - t0).toFixed(0)} ms`,
    );
  } catch (err) {
    console.log(
      `idle-socket flood: ${IDLE} idle sockets: the page could not connect (${(err as Error).message}) after ${(performance.now() - t0).toFixed(0)} ms`,
    );
  } finally {
    client.close();
    sockets.forEach((s) => s.destroy());
  }
});
