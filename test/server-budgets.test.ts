import fs from 'node:fs';
import net from 'node:net';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { browserClient, rawSocket, request, startTestServer } from './server-helpers.ts';

const MIB = 1024 * 1024;
const call = (ws: WebSocket, id: number, method: string, args: unknown[]) => request(ws, JSON.stringify({ id, method, args }));

/** Memory and connections of `kiln serve` are budgeted (M3), on real loopback servers. */
describe('kiln serve: budgets', () => {
  it('calls in flight are held to a byte budget per connection and overall: a flood is slowed, not failed', async () => {
    const perConnection = 4 * MIB;
    const total = 8 * MIB;
    const { server, cleanup } = await startTestServer({ inFlightBytes: { perConnection, total } });
    try {
      const chunk = Buffer.alloc(4 * MIB, 3).toString('base64');
      const CONNS = 3;
      const CHUNKS = 10;
      const results = await Promise.all(
        Array.from({ length: CONNS }, async () => {
          const { ws } = await rawSocket(`ws://127.0.0.1:${server.port}/api?token=${server.token}`, server.origin);
          const { result } = await call(ws, 0, 'datasets.uploadBegin', [{ files: CHUNKS, bytes: CHUNKS * 4 * MIB }]);
          const id = (result as { uploadId: string }).uploadId;
          // Every chunk at once, as a misbehaving (or hostile) client would; replies matched by id.
          const errors = new Map<number, unknown>();
          await new Promise<void>((resolve) => {
            ws.on('message', (d) => {
              const m = JSON.parse(d.toString()) as { id?: number; error?: unknown };
              if (typeof m.id !== 'number' || m.id < 1) return;
              errors.set(m.id, m.error);
              if (errors.size === CHUNKS) resolve();
            });
            for (let i = 1; i <= CHUNKS; i++)
              ws.send(JSON.stringify({ id: i, method: 'datasets.uploadChunk', args: [id, `c/${i}.png`, 0, chunk] }));
          });
          ws.close();
          return [...errors.values()].filter(Boolean).length;
        }),
      );
      expect(results).toEqual([0, 0, 0]);
      const stats = server.inFlight.stats();
      const message = chunk.length + 200;
      // Over the budget by at most the message that crossed it, per connection.
      expect(stats.peak).toBeLessThanOrEqual(total + CONNS * message);
      expect(stats.peak).toBeGreaterThan(0);
      expect(stats.pauses).toBeGreaterThan(0);
      expect(stats.bytes).toBe(0);
    } finally {
      await cleanup();
    }
  }, 120_000);

  it('a socket that sends no request is closed after the first-request timeout', async () => {
    const { server, cleanup } = await startTestServer({ firstRequestMs: 300 });
    try {
      const socket = net.connect(server.port, '127.0.0.1');
      const closed = await new Promise<boolean>((resolve) => {
        socket.on('close', () => resolve(true));
        socket.on('error', () => undefined);
        setTimeout(() => resolve(false), 8_000);
      });
      expect(closed).toBe(true);
      expect(server.refusals.counts.get('no request within 300 ms')).toBe(1);
    } finally {
      await cleanup();
    }
  }, 20_000);

  it('a flood of idle sockets cannot lock the page out: the oldest idle ones make room', async () => {
    // A first-request timeout far longer than the test: only making room can let the page in.
    const { server, cleanup } = await startTestServer({ maxConnections: 8, firstRequestMs: 120_000 });
    const idle: net.Socket[] = [];
    try {
      for (let i = 0; i < 150; i++) {
        const s = net.connect(server.port, '127.0.0.1');
        s.on('error', () => undefined);
        idle.push(s);
        await new Promise<void>((resolve) => {
          s.once('connect', () => resolve());
          s.once('close', () => resolve());
        });
      }
      const client = browserClient(server);
      const info = await client.call('app.info');
      expect(info).toBeTruthy();
      client.close();
      expect(server.refusals.counts.get('an idle connection made room for a new one')).toBeGreaterThan(100);
    } finally {
      idle.forEach((s) => s.destroy());
      await cleanup();
    }
  }, 60_000);

  it('refused connections are counted, and logged at a bounded rate', async () => {
    const { server, cleanup } = await startTestServer();
    try {
      const N = 60;
      await Promise.all(
        Array.from({ length: N }, async () => {
          const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api?token=wrong-token-0123456789`, { origin: server.origin });
          ws.on('error', () => undefined);
          await new Promise((resolve) => ws.on('close', resolve));
        }),
      );
      expect(server.refusals.counts.get('WebSocket: missing or wrong token')).toBe(N);
      server.refusals.flush();
      const log = fs.readFileSync(server.services.log.fileFor(), 'utf8');
      const lines = log.split('\n').filter((l) => /refused/.test(l));
      expect(lines.length).toBeLessThanOrEqual(3);
      expect(log).toMatch(new RegExp(`refused ${N - 1} × WebSocket: missing or wrong token`));
    } finally {
      await cleanup();
    }
  });
});
