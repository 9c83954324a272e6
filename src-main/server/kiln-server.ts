import crypto from 'node:crypto';
import { contentSecurityPolicy } from '../common/csp.ts';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { UsageError } from '../common/errors.ts';
import { KILN_VERSION } from '../common/version.ts';
import type { Transport } from '../common/child-channel.ts';
import { dispatch } from '../app/dispatch.ts';
import { createKilnServices, type EmitEvent, type KilnServices } from '../app/kiln-services.ts';
import { allowedLoopbackHosts, hostPort, isLoopbackHost } from './host-check.ts';
import { resolveStatic, sendFile } from './static-files.ts';
import { guardSockets, InFlightBudget, RefusalLog, type InFlightBudgetOptions } from './connection-guard.ts';
import { SESSION_RESTORE_PATH, SESSION_RESTORE_SCRIPT, sessionRestorePage } from './session-restore.ts';

export const DEFAULT_RENDERER_DIR = fileURLToPath(new URL('../../out/renderer/', import.meta.url));
/** A request message may carry an image for runs.predict (30 MB of base64) and little else is large. */
export const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
/** Close code for a refused WebSocket (RFC 6455 §7.4.1: policy violation). */
export const WS_POLICY_VIOLATION = 1008;
/** Progress events to a client that has this much unsent are dropped rather than queued. */
const MAX_BUFFERED_EVENT_BYTES = 8 * 1024 * 1024;
/** A client with this much unsent (it does not read its replies) is disconnected. */
export const DEFAULT_MAX_CLIENT_BUFFER_BYTES = 64 * 1024 * 1024;
/** WebSocket connections at once; more are refused (close 1013, try again later). */
export const DEFAULT_MAX_CONNECTIONS = 32;
/** Calls one connection may have in flight; more are answered with an error at once. */
export const MAX_CALLS_IN_FLIGHT = 64;
/** Close code for a connection refused for load (RFC 6455 §7.4.1 registry: try again later). */
export const WS_TRY_AGAIN_LATER = 1013;

export interface KilnServerOptions {
  home: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Default: a fresh random token. */
  token?: string;
  /** Needed to bind anything but a loopback address. */
  allowRemote?: boolean;
  rendererDir?: string;
  maxMessageBytes?: number;
  spawner?: Transport;
  /** With allowRemote: the only folders (and their sub-folders) a client may import from. */
  dataRoots?: string[];
  maxConnections?: number;
  maxClientBufferBytes?: number;
  /** Bytes of calls being handled per connection and overall before connections are paused (connection-guard.ts). */
  inFlightBytes?: InFlightBudgetOptions;
  /** A socket must send its first request's headers within this (default DEFAULT_FIRST_REQUEST_MS). */
  firstRequestMs?: number;
  /** TCP connections from one non-loopback address (default DEFAULT_MAX_PER_ADDRESS). */
  maxPerAddress?: number;
}

export interface KilnServer {
  /** The address to open, with the token. */
  url: string;
  origin: string;
  host: string;
  port: number;
  token: string;
  services: KilnServices;
  /** Connections refused so far, by reason. */
  refusals: RefusalLog;
  /** Bytes of calls in flight now, and their peak. */
  inFlight: InFlightBudget;
  /** Pause running runs, close every connection and the server. */
  close(): Promise<{ paused: string[] }>;
}

export function newToken(): string {
  return crypto.randomBytes(24).toString('base64url');
}

export function checkToken(token: string): string {
  if (!/^[A-Za-z0-9._~-]{16,200}$/.test(token))
    throw new UsageError('--token: expected 16–200 URL-safe characters (letters, digits, . _ ~ -)');
  return token;
}

function sameToken(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** The id of an oversized or broken message, if its start shows one, so the error can name the call. */
function peekId(text: string): number | string | null {
  const m = /^\s*\{\s*"id"\s*:\s*(-?\d{1,15}|"[^"\\]{0,100}")/.exec(text.slice(0, 200));
  if (!m) return null;
  return m[1]!.startsWith('"') ? m[1]!.slice(1, -1) : Number(m[1]);
}

/**
 * `kiln serve`: the built renderer over HTTP and the KilnApi contract over a WebSocket at /api. A page
 * needs the token in its URL (`?token=`); the page keeps it in this tab's sessionStorage (never a cookie, which
 * every service on the host would receive whatever its port) so a reload finds it again (session-restore.ts),
 * and sends it with the WebSocket request. Static assets (the app's public code) need no token. The WebSocket only accepts pages
 * of this server's own origin. Wire protocol: on accepting a connection the server sends
 * {hello: {version}}; then client → {id, method, args}; server → {id, result} | {id, error: {name,
 * message}} | {event, payload}. A refused connection is closed with 1008 and the reason.
 */
export async function startKilnServer(opts: KilnServerOptions): Promise<KilnServer> {
  const host = opts.host ?? '127.0.0.1';
  const loopback = isLoopbackHost(host);
  if (!loopback && !opts.allowRemote) {
    throw new UsageError(
      `--host ${host} is not a loopback address; anyone who can reach it could train, read and delete your data: pass --allow-remote to do it anyway`,
    );
  }
  const token = opts.token ? checkToken(opts.token) : newToken();
  const rendererDir = path.resolve(opts.rendererDir ?? DEFAULT_RENDERER_DIR);
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const clients = new Set<WebSocket>();

  const emit: EmitEvent = (event, payload) => {
    const text = JSON.stringify({ event, payload });
    for (const ws of clients) {
      if (ws.readyState !== ws.OPEN) continue;
      if (event === 'runProgress' && ws.bufferedAmount > MAX_BUFFERED_EVENT_BYTES) continue;
      send(ws, text);
    }
  };
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const maxClientBuffer = opts.maxClientBufferBytes ?? DEFAULT_MAX_CLIENT_BUFFER_BYTES;
  const services = await createKilnServices({
    home: opts.home,
    emit,
    ...(opts.spawner ? { spawner: opts.spawner } : {}),
    // Remote use is safe by construction: imports only under --data-root, exports only under the home's exports/, built-in downloads only.
    ...(opts.allowRemote ? { remote: { dataRoots: opts.dataRoots ?? [] } } : {}),
  });
  const { log } = services;
  const refusals = new RefusalLog(log);
  const budget = new InFlightBudget(opts.inFlightBytes);

  let port = 0;
  // The address it listens on is always allowed: the printed URL must work (--host 127.0.0.2).
  const hostAllowed = (hostHeader: string | undefined) =>
    !loopback ||
    (hostHeader !== undefined &&
      (allowedLoopbackHosts(port).has(hostHeader.toLowerCase()) || hostHeader.toLowerCase() === hostPort(host, port).toLowerCase()));
  const authorized = (url: URL) => sameToken(url.searchParams.get('token'), token);

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const base = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'Cache-Control': 'no-store' };
    const fail = (status: number, text: string) => {
      res.writeHead(status, { ...base, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(text + '\n');
    };
    if (!hostAllowed(req.headers.host)) return fail(421, 'Kiln: unexpected Host header');
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'Kiln: method not allowed');
    const headers: Record<string, string> = {
      ...base,
      'X-Frame-Options': 'DENY',
      'Content-Security-Policy': contentSecurityPolicy(`'self' ws://${req.headers.host ?? hostPort(host, port)}`),
    };
    if (url.pathname === '/api') return fail(426, 'Kiln: /api is a WebSocket');
    const head = req.method === 'HEAD';
    const index = path.join(rendererDir, 'index.html');
    const file = resolveStatic(rendererDir, url.pathname);
    // Assets are the app's public code; only the page (which reads the token from its URL) asks for it.
    if (file && file !== fs.realpathSync(index)) return sendFile(res, file, headers, head);
    if (url.pathname === SESSION_RESTORE_PATH) {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/javascript; charset=utf-8' });
      return res.end(head ? undefined : SESSION_RESTORE_SCRIPT);
    }
    if (file || !path.extname(url.pathname)) {
      if (!authorized(url)) {
        res.writeHead(401, { ...headers, 'Content-Type': 'text/html; charset=utf-8' });
        return res.end(
          head ? undefined : sessionRestorePage('Kiln: this page needs the token printed by `kiln serve`: open the URL it printed.'),
        );
      }
    }
    if (file) return sendFile(res, file, headers, head);
    // Client-side routes get the app; a missing asset gets a 404.
    if (!path.extname(url.pathname) && fs.existsSync(index)) return sendFile(res, index, headers, head);
    if (!fs.existsSync(index))
      return fail(
        503,
        `Kiln: the app is not built (no ${index}); restart \`kiln serve\` (it builds the app) or run \`npm run build:web\`. The API at /api works without it.`,
      );
    return fail(404, 'Kiln: not found');
  });

  // A hard cap well above the soft limit: bigger frames are dropped by ws itself (close 1009).
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes * 2 + 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nKiln: ${text}\n`);
    };
    if (url.pathname !== '/api') return refuse(404, 'Not Found');
    if (!hostAllowed(req.headers.host)) return refuse(421, 'Misdirected Request');
    // Accept, then close with a reason the page can show; nothing is read before the checks pass.
    const reason = !authorized(url)
      ? 'missing or wrong token'
      : req.headers.origin !== `http://${req.headers.host}`
        ? `origin ${req.headers.origin ?? '(none)'} is not allowed`
        : null;
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (reason) {
        refusals.refused(`WebSocket: ${reason}`, req.socket.remoteAddress);
        ws.close(WS_POLICY_VIOLATION, reason);
        return;
      }
      if (clients.size >= maxConnections) {
        refusals.refused(`WebSocket: ${maxConnections} connections already open`, req.socket.remoteAddress);
        ws.close(WS_TRY_AGAIN_LATER, `too many connections (${maxConnections}); close another Kiln tab`);
        return;
      }
      clients.add(ws);
      send(ws, { hello: { version: KILN_VERSION } });
      ws.on('close', () => {
        clients.delete(ws);
        budget.forget(ws);
        // Uploads this connection was still sending die with it (a closed tab, a dropped network).
        const ups = uploadsOf.get(ws);
        if (ups?.size)
          void services.uploads
            .abandon(ups)
            .then((ids) => ids.length && log.info(`connection closed: dropped upload(s) ${ids.join(', ')}`));
      });
      ws.on('error', (err) => log.warn(`WebSocket error: ${err.message}`));
      ws.on('message', (data, isBinary) => void onMessage(ws, data as Buffer, isBinary));
    });
  });

  /** Every message to a client goes through here (a string is sent as is). */
  function send(ws: WebSocket, message: unknown): void {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(typeof message === 'string' ? message : JSON.stringify(message));
    // A client that does not read its replies would make them pile up here without end.
    if (ws.bufferedAmount > maxClientBuffer) {
      log.warn(`closed a WebSocket that does not read its replies (${ws.bufferedAmount} bytes unsent)`);
      ws.terminate();
    }
  }
  const inFlight = new WeakMap<WebSocket, number>();
  /** Uploads each connection began (finished ones are ignored by abandon). */
  const uploadsOf = new WeakMap<WebSocket, Set<string>>();

  async function onMessage(ws: WebSocket, data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean): Promise<void> {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    // Counted from arrival to reply: a message holds about its size several times over (text, parsed, decoded) until then.
    const size = buf.length;
    budget.enter(ws, size);
    try {
      await handleMessage(ws, buf, isBinary);
    } finally {
      budget.leave(ws, size);
    }
  }

  async function handleMessage(ws: WebSocket, buf: Buffer, isBinary: boolean): Promise<void> {
    if (buf.length > maxMessageBytes) {
      return send(ws, {
        id: peekId(buf.subarray(0, 200).toString('utf8')),
        error: { name: 'MessageTooLargeError', message: `message of ${buf.length} bytes is over the limit of ${maxMessageBytes} bytes` },
      });
    }
    if (isBinary) return send(ws, { id: null, error: { name: 'ProtocolError', message: 'expected a text message with JSON' } });
    const text = buf.toString('utf8');
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      return send(ws, { id: peekId(text), error: { name: 'ProtocolError', message: `malformed JSON: ${(err as Error).message}` } });
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg))
      return send(ws, { id: null, error: { name: 'ProtocolError', message: 'expected an object {id, method, args}' } });
    const { id, method, args } = msg as { id?: unknown; method?: unknown; args?: unknown };
    if (!(typeof id === 'number' && Number.isFinite(id)) && !(typeof id === 'string' && id.length <= 100)) {
      return send(ws, {
        id: null,
        error: { name: 'ProtocolError', message: 'id: expected a number or a string of at most 100 characters' },
      });
    }
    if (args !== undefined && !Array.isArray(args))
      return send(ws, { id, error: { name: 'ProtocolError', message: 'args: expected an array' } });
    const calls = inFlight.get(ws) ?? 0;
    if (calls >= MAX_CALLS_IN_FLIGHT) {
      return send(ws, {
        id,
        error: { name: 'TooManyCallsError', message: `${calls} calls are already in flight on this connection; wait for their answers` },
      });
    }
    inFlight.set(ws, calls + 1);
    try {
      const reply = await dispatch(services.handlers, method, args ?? [], log);
      if (method === 'datasets.uploadBegin' && 'result' in reply) {
        const ups = uploadsOf.get(ws) ?? new Set<string>();
        uploadsOf.set(ws, ups.add((reply.result as { uploadId: string }).uploadId));
        if (ws.readyState !== ws.OPEN) void services.uploads.abandon(ups);
      }
      send(ws, { id, ...reply });
    } finally {
      inFlight.set(ws, (inFlight.get(ws) ?? 1) - 1);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new UsageError(`--port ${opts.port}: already in use`)
          : err.code === 'EADDRNOTAVAIL'
            ? new UsageError(`--host ${host}: not an address of this machine`)
            : err,
      ),
    );
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  // TCP connections are capped too (the WebSocket count is checked on upgrade), making room by closing idle ones.
  guardSockets(server, refusals, {
    maxSockets: maxConnections * 4,
    ...(opts.firstRequestMs ? { firstRequestMs: opts.firstRequestMs } : {}),
    ...(opts.maxPerAddress ? { maxPerAddress: opts.maxPerAddress } : {}),
  });
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const origin = `http://${hostPort(shownHost, port)}`;
  log.info(`serving at ${hostPort(host, port)} (renderer ${rendererDir})`);

  let closing: Promise<{ paused: string[] }> | undefined;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    host,
    port,
    token,
    services,
    refusals,
    inFlight: budget,
    close: () =>
      (closing ??= (async () => {
        const result = await services.shutdown();
        for (const ws of clients) ws.close(1001, 'Kiln is shutting down');
        wss.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        refusals.flush();
        log.info('server closed');
        return result;
      })()),
  };
}
