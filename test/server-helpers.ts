import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startKilnServer, type KilnServer, type KilnServerOptions } from '../src-main/server/kiln-server.ts';
import { connectKiln, type WsKilnClient } from '../src-renderer/src/lib/ws-client.ts';
import type { EventName, KilnEvents } from '../src-shared/contract.ts';

export async function startTestServer(
  opts: Partial<KilnServerOptions> = {},
): Promise<{ server: KilnServer; home: string; cleanup: () => Promise<void> }> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-server-'));
  const server = await startKilnServer({ home, port: 0, ...opts });
  return {
    server,
    home,
    cleanup: async () => {
      await server.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** The browser client, over the `ws` package with the Origin a page of this server would send. */
export function browserClient(server: KilnServer, opts: { token?: string; origin?: string } = {}): WsKilnClient {
  const token = opts.token ?? server.token;
  return connectKiln({
    url: `ws://127.0.0.1:${server.port}/api?token=${encodeURIComponent(token)}`,
    createSocket: (url) => new WebSocket(url, { origin: opts.origin ?? server.origin }) as never,
    reconnect: false,
  });
}

/** Collects events of one kind; `next(pred)` waits for the first matching one (past or future). */
export function eventLog<E extends EventName>(client: WsKilnClient, event: E) {
  const seen: KilnEvents[E][] = [];
  const waiters: { pred: (p: KilnEvents[E]) => boolean; resolve: (p: KilnEvents[E]) => void }[] = [];
  client.on(event, (p) => {
    seen.push(p);
    for (const w of waiters.splice(0)) {
      if (w.pred(p)) w.resolve(p);
      else waiters.push(w);
    }
  });
  return {
    seen,
    next(pred: (p: KilnEvents[E]) => boolean = () => true, timeoutMs = 90_000): Promise<KilnEvents[E]> {
      const hit = seen.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`no ${event} event matching within ${timeoutMs} ms; saw ${JSON.stringify(seen).slice(0, 500)}`)),
          timeoutMs,
        );
        waiters.push({ pred, resolve: (p) => (clearTimeout(t), resolve(p)) });
      });
    },
  };
}

/** A raw socket for protocol-level tests: resolves with it once open, or with how it closed. */
export function rawSocket(
  url: string,
  origin?: string,
): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }>; first: Promise<string> }> {
  const ws = new WebSocket(url, origin ? { origin } : {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  // Listening from the start: the server's greeting can arrive in the same packet as the handshake.
  const first = new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve({ ws, closed, first }));
    ws.on('error', reject);
  });
}

/** Send one message and wait for the reply that is not an event. */
export function request(
  ws: WebSocket,
  text: string | Buffer,
): Promise<{ id: unknown; result?: unknown; error?: { name: string; message: string } }> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const msg = JSON.parse(data.toString());
      if (msg.event || msg.hello) return;
      ws.off('message', onMessage);
      resolve(msg);
    };
    ws.on('message', onMessage);
    ws.send(text);
  });
}
