import type http from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { DailyLog } from '../app/daily-log.ts';
import { isLoopbackHost } from './host-check.ts';

/** Bytes of request messages one connection may have being handled before the server stops reading it. */
export const DEFAULT_CONNECTION_INFLIGHT_BYTES = 8 * 1024 * 1024;
/** The same over all connections together. */
export const DEFAULT_TOTAL_INFLIGHT_BYTES = 32 * 1024 * 1024;
/** A socket that has not finished its first request's headers by then is closed. */
export const DEFAULT_FIRST_REQUEST_MS = 10_000;
/** TCP connections from one non-loopback address at once. */
export const DEFAULT_MAX_PER_ADDRESS = 16;
/** At most one summary line of refused connections per this many ms. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * Refused connections are counted by reason and logged at a bounded rate: the first one at once, then one
 * summary line per interval at most, so a flood cannot fill the disk with log lines.
 */
export class RefusalLog {
  readonly counts = new Map<string, number>();
  private pending = new Map<string, number>();
  private lastLine = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: DailyLog,
    private readonly intervalMs = REFUSAL_LOG_INTERVAL_MS,
  ) {}

  refused(reason: string, from: string | undefined): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    const now = Date.now();
    if (now - this.lastLine >= this.intervalMs && !this.pending.size) {
      this.lastLine = now;
      this.log.warn(`refused a connection from ${from ?? 'an unknown address'}: ${reason}`);
      return;
    }
    this.pending.set(reason, (this.pending.get(reason) ?? 0) + 1);
    this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.lastLine + this.intervalMs - now)).unref();
  }

  total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending.size) return;
    const parts = [...this.pending].map(([reason, n]) => `${n} × ${reason}`);
    this.pending = new Map();
    this.lastLine = Date.now();
    this.log.warn(`refused ${parts.join('; ')} (since the last line)`);
  }
}

export interface SocketGuardOptions {
  firstRequestMs?: number;
  /** TCP connections at once over all addresses; at the cap the oldest that has not sent a request goes. */
  maxSockets: number;
  maxPerAddress?: number;
}

/**
 * Idle sockets cannot lock the page out: a socket must finish its first request's headers within
 * firstRequestMs; at the connection cap the oldest socket that has sent nothing yet makes room for the new
 * one (the page sends its request at once, an idle flood does not); a non-loopback address may hold only
 * maxPerAddress sockets. Node's own maxConnections would refuse the newcomer instead, the page included.
 */
export function guardSockets(server: http.Server, refusals: RefusalLog, opts: SocketGuardOptions): void {
  const firstRequestMs = opts.firstRequestMs ?? DEFAULT_FIRST_REQUEST_MS;
  const maxPerAddress = opts.maxPerAddress ?? DEFAULT_MAX_PER_ADDRESS;
  /** Sockets that have not sent a request yet, oldest first, with their timers. */
  const waiting = new Map<Socket, NodeJS.Timeout>();
  const perAddress = new Map<string, number>();
  let open = 0;
  const started = (socket: Socket) => {
    const t = waiting.get(socket);
    if (t === undefined) return;
    clearTimeout(t);
    waiting.delete(socket);
  };
  server.on('request', (req: http.IncomingMessage) => started(req.socket));
  server.on('upgrade', (req: http.IncomingMessage) => started(req.socket));
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = (perAddress.get(address) ?? 0) + 1;
    open++;
    perAddress.set(address, count);
    socket.once('close', () => {
      started(socket);
      open--;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left) perAddress.set(address, left);
      else perAddress.delete(address);
    });
    if (count > maxPerAddress && !isLoopbackHost(address.replace(/^::ffff:/, ''))) {
      refusals.refused(`more than ${maxPerAddress} connections from one address`, address);
      socket.destroy();
      return;
    }
    if (open > opts.maxSockets) {
      const oldest = waiting.keys().next();
      if (oldest.done) {
        refusals.refused(`${opts.maxSockets} connections open already`, address);
        socket.destroy();
        return;
      }
      refusals.refused('an idle connection made room for a new one', oldest.value.remoteAddress);
      started(oldest.value);
      oldest.value.destroy();
    }
    waiting.set(
      socket,
      setTimeout(() => {
        waiting.delete(socket);
        refusals.refused(`no request within ${firstRequestMs} ms`, address);
        socket.destroy();
      }, firstRequestMs).unref(),
    );
  });
}

export interface InFlightBudgetOptions {
  perConnection?: number;
  total?: number;
}

/**
 * Bytes of calls being handled, per connection and overall. A connection over either budget is paused
 * (its socket is not read, so TCP pushes back on the sender) until its calls, or others', finish: memory
 * stays near the budgets plus one message per connection however many calls a client fires at once.
 */
export class InFlightBudget {
  readonly perConnection: number;
  readonly total: number;
  private used = 0;
  private peak = 0;
  private pauses = 0;
  private readonly byConn = new Map<WebSocket, number>();
  private readonly paused = new Set<WebSocket>();

  constructor(opts: InFlightBudgetOptions = {}) {
    this.perConnection = opts.perConnection ?? DEFAULT_CONNECTION_INFLIGHT_BYTES;
    this.total = opts.total ?? DEFAULT_TOTAL_INFLIGHT_BYTES;
  }

  /** Bytes in flight now, and the most there have been. */
  stats(): { bytes: number; peak: number; pausedConnections: number; pauses: number } {
    return { bytes: this.used, peak: this.peak, pausedConnections: this.paused.size, pauses: this.pauses };
  }

  enter(ws: WebSocket, bytes: number): void {
    const mine = (this.byConn.get(ws) ?? 0) + bytes;
    this.byConn.set(ws, mine);
    this.used += bytes;
    this.peak = Math.max(this.peak, this.used);
    if (mine > this.perConnection || this.used > this.total) {
      if (!this.paused.has(ws)) this.pauses++;
      this.paused.add(ws);
      ws.pause();
    }
  }

  leave(ws: WebSocket, bytes: number): void {
    const mine = (this.byConn.get(ws) ?? bytes) - bytes;
    if (mine > 0) this.byConn.set(ws, mine);
    else this.byConn.delete(ws);
    this.used -= bytes;
    for (const p of this.paused) {
      if (this.used > this.total) break;
      if ((this.byConn.get(p) ?? 0) > this.perConnection) continue;
      this.paused.delete(p);
      if (p.readyState === p.OPEN) p.resume();
    }
  }

  /** A closed connection's calls may still finish; nothing of it stays paused. */
  forget(ws: WebSocket): void {
    this.paused.delete(ws);
  }
}
