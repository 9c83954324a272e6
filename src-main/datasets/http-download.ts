import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DataError } from '../common/errors.ts';
import { writeJsonAtomic } from '../common/atomic-write.ts';
import { describeFsError } from '../common/fs-errors.ts';
import { getViaProxy, parsePacProxy, type ProxyResolver } from './proxy.ts';
import { throttle } from '../common/throttle.ts';
import type { DownloadProgressEvent } from '../../src-shared/dataset-progress.ts';

export interface DownloadOptions {
  url: string;
  /** Where the bytes go; kept across attempts (and runs) so an interrupted download resumes. */
  file: string;
  signal?: AbortSignal;
  onProgress?: (e: DownloadProgressEvent) => void;
  /** Attempts after a connection drops mid-body. */
  maxRetries?: number;
  /** A connection that sends nothing for this long is treated as dropped. */
  stallTimeoutMs?: number;
  retryDelayMs?: number;
  /** Refuse a file larger than this (the size the server announces, or what it actually sends). */
  maxBytes?: number;
  /** The system's proxy for a URL (the app: Electron's resolver); without one, connections are direct. */
  proxyFor?: ProxyResolver;
}

export interface DownloadResult {
  bytes: number;
  /** Bytes that were already on disk when this call started. */
  resumedFrom: number;
  retries: number;
}

/** What the server said about the file, kept beside the partial download so a resume asks for the same version. */
interface PartMeta {
  url: string;
  etag: string | null;
  lastModified: string | null;
  totalBytes: number | null;
}

/** A failure that a fresh request with a Range header may get past (dropped connection, stall). */
class RetryableError extends Error {}

const MAX_REDIRECTS = 5;

export async function downloadWithResume(opts: DownloadOptions): Promise<DownloadResult> {
  const { url, file, signal } = opts;
  const maxRetries = opts.maxRetries ?? 5;
  const metaFile = `${file}.json`;
  let meta = await readMeta(metaFile);
  let have = await fileSize(file);
  if (have > 0 && (!meta || meta.url !== url)) {
    // A partial file from another URL (or without a record of its source) cannot be trusted to continue.
    await fs.promises.rm(file, { force: true });
    have = 0;
    meta = null;
  }
  const resumedFrom = have;
  const samples: [number, number][] = [];
  const emit = throttle((e: DownloadProgressEvent) => opts.onProgress?.(e), 100);
  const report = (bytes: number, total: number | null, force = false) => {
    const now = performance.now();
    samples.push([now, bytes]);
    while (samples.length > 2 && now - samples[0][0] > 3000) samples.shift();
    const [t0, b0] = samples[0];
    const rate = now - t0 > 0 ? ((bytes - b0) * 1000) / (now - t0) : 0;
    const eta = total !== null && rate > 0 ? (total - bytes) / rate : null;
    emit(
      {
        phase: 'download',
        bytes,
        totalBytes: total,
        bytesPerSecond: Math.round(rate),
        etaSeconds: eta === null ? null : Math.round(eta * 10) / 10,
        resumedFrom,
      },
      force,
    );
  };

  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    try {
      const total = await fetchOnce(
        url,
        file,
        have,
        meta,
        signal,
        opts.stallTimeoutMs ?? 30_000,
        async (m) => {
          meta = m;
          await writeJsonAtomic(metaFile, m);
        },
        report,
        opts.maxBytes ?? Number.MAX_SAFE_INTEGER,
        opts.proxyFor,
      );
      report(total, total, true);
      return { bytes: total, resumedFrom, retries: attempt };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (!(err instanceof RetryableError) || attempt >= maxRetries) {
        if (err instanceof RetryableError) throw new DataError(`download of ${url} failed after ${attempt + 1} attempts: ${err.message}`);
        throw err;
      }
      have = await fileSize(file);
      opts.onProgress?.({ phase: 'retry', attempt: attempt + 1, resumeFrom: have, reason: err.message });
      await sleep((opts.retryDelayMs ?? 500) * (attempt + 1), signal);
    }
  }
}

async function fetchOnce(
  url: string,
  file: string,
  have: number,
  meta: PartMeta | null,
  signal: AbortSignal | undefined,
  stallMs: number,
  saveMeta: (m: PartMeta) => Promise<void>,
  report: (bytes: number, total: number | null, force?: boolean) => void,
  maxBytes: number,
  proxyFor: ProxyResolver | undefined,
): Promise<number> {
  const tooBig = async (size: number, exact: boolean) => {
    res.destroy();
    await fs.promises.rm(file, { force: true });
    return new DataError(`download of ${url} refused: ${exact ? '' : 'more than '}${size} bytes, and at most ${maxBytes} are expected`);
  };
  const headers: Record<string, string> = { 'user-agent': 'kiln-dataset-download', 'accept-encoding': 'identity' };
  if (have > 0) {
    headers.range = `bytes=${have}-`;
    // If-Range: a server whose file changed sends it whole (200) instead of a mismatched tail.
    const validator = meta?.etag ?? meta?.lastModified;
    if (validator) headers['if-range'] = validator;
  }
  let target = new URL(url);
  let res: http.IncomingMessage;
  for (let hops = 0; ; hops++) {
    res = await request(target, headers, signal, stallMs, proxyFor);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hops >= MAX_REDIRECTS) throw new DataError(`download of ${url} failed: more than ${MAX_REDIRECTS} redirects`);
      target = new URL(res.headers.location, target);
      continue;
    }
    break;
  }
  const status = res.statusCode ?? 0;
  if (status === 416 && have > 0) {
    // Asked for bytes past the end: the part file may already be whole, or the file changed. Check the size the server reports.
    res.resume();
    const total = Number(/\*\/(\d+)/.exec(res.headers['content-range'] ?? '')?.[1] ?? NaN);
    if (total === have) return have;
    await fs.promises.rm(file, { force: true });
    throw new RetryableError('server refused the resume range; starting over');
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw new DataError(`download of ${url} failed: HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`);
  }
  let start = 0;
  let total: number | null = null;
  const length = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : null;
  if (status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
    if (!m || Number(m[1]) !== have) {
      res.resume();
      await fs.promises.rm(file, { force: true });
      throw new RetryableError(
        `server answered the resume with an unexpected range "${res.headers['content-range'] ?? ''}"; starting over`,
      );
    }
    start = have;
    total = m[3] === '*' ? null : Number(m[3]);
  } else {
    total = length;
  }
  if (total !== null && total > maxBytes) throw await tooBig(total, true);
  await saveMeta({
    url,
    etag: typeof res.headers.etag === 'string' ? res.headers.etag : null,
    lastModified: res.headers['last-modified'] ?? null,
    totalBytes: total,
  });

  let bytes = start;
  let over = false;
  report(bytes, total, true);
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      // A server that announces no size (or lies about it) is cut off at the cap.
      if (bytes > maxBytes) {
        over = true;
        return cb(new Error('over the size cap'));
      }
      report(bytes, total);
      cb(null, chunk);
    },
  });
  // Positional writes, not appends: should a write of the failed attempt land after the part file's
  // size was read, it rewrites the same bytes at the same offsets instead of duplicating them.
  const out = fs.createWriteStream(file, start > 0 ? { flags: 'r+', start } : { flags: 'w' });
  try {
    await pipeline(res, counter, out, { signal });
  } catch (err) {
    // Let the file settle before the caller measures it for the next Range request.
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
    if (signal?.aborted) throw signal.reason;
    if (over) throw await tooBig(maxBytes, false);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EACCES' || code === 'EROFS') throw describeFsError(err, file);
    throw new RetryableError(`connection lost after ${bytes} bytes (${(err as Error).message})`);
  }
  if (total !== null && bytes !== total) {
    throw new RetryableError(`connection closed after ${bytes} of ${total} bytes`);
  }
  return bytes;
}

async function request(
  url: URL,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
  stallMs: number,
  proxyFor?: ProxyResolver,
): Promise<http.IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DataError(`download URL must be http or https, got "${url.protocol}"`);
  }
  const proxy = proxyFor ? parsePacProxy(await proxyFor(url.href)) : null;
  let req: http.ClientRequest;
  try {
    req = proxy
      ? await getViaProxy(proxy, url, { headers, signal, timeout: stallMs })
      : (url.protocol === 'https:' ? https : http).get(url, { headers, signal, timeout: stallMs });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    // A failed tunnel: the proxy is what could not be reached.
    throw err instanceof DataError
      ? err
      : connectError(proxy ? new URL(`http://${proxy.host}:${proxy.port}`) : url, err as NodeJS.ErrnoException);
  }
  return new Promise((resolve, reject) => {
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no data for ${Math.round(stallMs / 1000)} s`), { code: 'ETIMEDOUT' })));
    req.on('response', resolve);
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (signal?.aborted) return reject(signal.reason);
      reject(connectError(url, err));
    });
  });
}

/** One line per way a host can be out of reach; drops after connecting are retried instead. */
function connectError(url: URL, err: NodeJS.ErrnoException): Error {
  const where = url.host;
  switch (err.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DataError(`cannot reach ${where}: host name not found (offline?)`);
    case 'ECONNREFUSED':
      return new DataError(`cannot reach ${where}: connection refused`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new DataError(`cannot reach ${where}: network unreachable`);
    case 'ETIMEDOUT':
      return new RetryableError(`${where} timed out (${err.message})`);
    case 'ECONNRESET':
    case 'EPIPE':
      return new RetryableError(`connection to ${where} was reset`);
    default:
      if (err.code?.startsWith('ERR_TLS') || err.code?.includes('CERT'))
        return new DataError(`TLS error talking to ${where}: ${err.message}`);
      return new DataError(`cannot download from ${where}: ${err.message}`);
  }
}

async function readMeta(file: string): Promise<PartMeta | null> {
  try {
    return JSON.parse(await fs.promises.readFile(file, 'utf8')) as PartMeta;
  } catch {
    return null;
  }
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await fs.promises.stat(file)).size;
  } catch {
    return 0;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
