/**
 * KilnApi over `kiln serve`'s WebSocket, for the renderer in a browser (in Electron it uses
 * `window.kiln`). Browser-only code: no Node imports. Calls made while (re)connecting wait for the
 * connection; calls in flight when it drops fail with a ConnectionError; events resume on reconnect.
 */
import type { EventName, KilnApi, KilnEvents, MethodArgs, MethodName, MethodResults } from '../../../src-shared/contract.ts';
import type { SerializedError } from '../../../src-shared/errors.ts';
import { SESSION_TOKEN_KEY } from '../../../src-shared/session.ts';

/** The error a call rejects with: the service's {name, message}. */
export class KilnCallError extends Error {
  constructor(error: SerializedError) {
    super(error.message);
    this.name = error.name;
  }
}

/** What the client needs of a WebSocket (the browser's, or the `ws` package's in tests). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (e: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (e: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: () => void): void;
}

export type ConnectionState = { state: 'connecting' | 'open' } | { state: 'closed'; code: number; reason: string; retrying: boolean };

export interface WsClientOptions {
  /** Default: ws(s)://<this page's host>/api?token=<token>. */
  url?: string;
  /** Default: the page URL's ?token=, read once and then kept in memory only. */
  token?: string | null;
  createSocket?: (url: string) => SocketLike;
  /** Reconnect after a dropped connection (not after a refusal). Default true. */
  reconnect?: boolean;
}

export interface WsKilnClient extends KilnApi {
  /** Resolves when connected; rejects if the server refused the connection. */
  readonly ready: Promise<void>;
  onConnection(listener: (state: ConnectionState) => void): () => void;
  close(): void;
}

const OPEN = 1;
const POLICY_VIOLATION = 1008;
let memoryToken: string | null | undefined;

/**
 * The token the page was opened with. It is taken out of the address bar so it is not left in history or
 * shared with the URL, and kept in this tab's sessionStorage (readable only by this origin, port included;
 * never a cookie, which every service on the host would receive) so a reload (F5) keeps the session: the
 * server's 401 page puts it back (src-main/server/session-restore.ts).
 */
function pageToken(): string | null {
  if (memoryToken !== undefined) return memoryToken;
  const g = globalThis as { location?: { href: string }; history?: History; sessionStorage?: Storage };
  if (!g.location) return (memoryToken = null);
  const url = new URL(g.location.href);
  memoryToken = url.searchParams.get('token');
  if (memoryToken !== null) {
    try {
      g.sessionStorage?.setItem(SESSION_TOKEN_KEY, memoryToken);
    } catch {
      // storage off (a locked-down browser): a reload then needs the printed URL, as before
    }
    url.searchParams.delete('token');
    try {
      g.history?.replaceState(g.history.state, '', url.pathname + url.search + url.hash);
    } catch {
      // no history API (a worker, a test): nothing shows the URL anyway
    }
  }
  return memoryToken;
}

function defaultUrl(token: string | null): string {
  const loc = (globalThis as { location?: { protocol: string; host: string } }).location;
  if (!loc) throw new Error('connectKiln: no page location; pass options.url');
  const base = `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api`;
  return token ? `${base}?token=${encodeURIComponent(token)}` : base;
}

export function connectKiln(options: WsClientOptions = {}): WsKilnClient {
  const url = options.url ?? defaultUrl(options.token === undefined ? pageToken() : options.token);
  const createSocket = options.createSocket ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
  const reconnect = options.reconnect ?? true;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; method: string }>();
  const queue: string[] = [];
  const listeners = new Map<EventName, Set<(payload: never) => void>>();
  const connectionListeners = new Set<(state: ConnectionState) => void>();
  let nextId = 1;
  let socket: SocketLike | undefined;
  let closedByUs = false;
  let refused: KilnCallError | undefined;
  let retryMs = 500;
  let resolveReady!: () => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => undefined);

  const setState = (s: ConnectionState) => connectionListeners.forEach((l) => l(s));

  function open(): void {
    setState({ state: 'connecting' });
    const ws = createSocket(url);
    socket = ws;
    // Calls queued while connecting go out at once; the connection counts as open only when the
    // server's hello arrives (a refused one is opened, then closed with a reason).
    ws.addEventListener('open', () => {
      for (const text of queue.splice(0)) ws.send(text);
    });
    ws.addEventListener('message', (e) => onMessage(typeof e.data === 'string' ? e.data : String(e.data)));
    ws.addEventListener('error', () => undefined);
    ws.addEventListener('close', (e) => {
      if (socket !== ws) return;
      socket = undefined;
      // A policy close is a refusal (token, origin): retrying cannot help.
      if (e.code === POLICY_VIOLATION) {
        refused = new KilnCallError({
          name: 'ConnectionRefusedError',
          message: `Kiln refused the connection: ${e.reason || 'policy violation'}`,
        });
        rejectReady(refused);
        queue.length = 0;
      }
      const lost =
        refused ??
        new KilnCallError({ name: 'ConnectionError', message: `connection to Kiln closed (${e.code}${e.reason ? `: ${e.reason}` : ''})` });
      for (const [id, p] of pending) {
        // Calls still queued for the next connection wait for it.
        if (!refused && queue.some((t) => t.startsWith(`{"id":${id},`))) continue;
        pending.delete(id);
        p.reject(lost);
      }
      const retrying = reconnect && !closedByUs && !refused;
      if (!retrying && !refused) {
        rejectReady(lost);
        for (const [id, p] of pending) {
          pending.delete(id);
          p.reject(lost);
        }
        queue.length = 0;
      }
      setState({ state: 'closed', code: e.code, reason: e.reason, retrying });
      if (retrying) {
        setTimeout(open, retryMs);
        retryMs = Math.min(retryMs * 2, 10_000);
      }
    });
  }

  function onMessage(text: string): void {
    let msg: {
      id?: number | string | null;
      result?: unknown;
      error?: SerializedError;
      event?: EventName;
      payload?: unknown;
      hello?: unknown;
    };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.hello) {
      retryMs = 500;
      setState({ state: 'open' });
      resolveReady();
      return;
    }
    if (msg.event) {
      listeners.get(msg.event)?.forEach((l) => (l as (p: unknown) => void)(msg.payload));
      return;
    }
    if (typeof msg.id !== 'number') return;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new KilnCallError(msg.error));
    else p.resolve(msg.result === null ? undefined : msg.result);
  }

  open();

  return {
    ready,
    call<M extends MethodName>(method: M, ...args: MethodArgs<M>): Promise<MethodResults[M]> {
      if (refused) return Promise.reject(refused);
      if (closedByUs) return Promise.reject(new KilnCallError({ name: 'ConnectionError', message: 'the connection to Kiln was closed' }));
      const id = nextId++;
      // JSON writes an omitted optional argument (undefined) in an array as null, which its schema refuses.
      const sent: unknown[] = [...args];
      while (sent.length && sent[sent.length - 1] === undefined) sent.pop();
      const text = JSON.stringify({ id, method, args: sent });
      return new Promise<MethodResults[M]>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
        if (socket && socket.readyState === OPEN) socket.send(text);
        else queue.push(text);
      });
    },
    on<E extends EventName>(event: E, listener: (payload: KilnEvents[E]) => void): () => void {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener as (payload: never) => void);
      return () => void set.delete(listener as (payload: never) => void);
    },
    onConnection(listener) {
      connectionListeners.add(listener);
      return () => void connectionListeners.delete(listener);
    },
    close() {
      closedByUs = true;
      socket?.close(1000, 'client closed');
    },
  };
}
