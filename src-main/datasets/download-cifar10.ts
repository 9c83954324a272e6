import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { Transform } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { DataError, UsageError } from '../common/errors.ts';
import { acquireLockFile } from '../common/lock-file.ts';
import type { DatasetStore } from './dataset-store.ts';
import { downloadWithResume } from './http-download.ts';
import type { ProxyResolver } from './proxy.ts';
import { tarEntries } from './tar-reader.ts';
import {
  CIFAR10_META_FILE,
  CIFAR10_SIZE,
  CIFAR10_TEST_FILE,
  CIFAR10_TRAIN_FILES,
  parseCifarBatches,
  parseCifarMeta,
} from './cifar10-parse.ts';
import { throttle } from '../common/throttle.ts';
import { hashFile } from '../common/hash-file.ts';
import type { DownloadProgressEvent } from '../../src-shared/dataset-progress.ts';

export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
/** The official tarball is 170,052,171 bytes; a mirror's may differ a little, not by gigabytes. */
export const CIFAR10_MAX_DOWNLOAD_BYTES = 200_000_000;
/** Its largest member, a data batch, is 30,730,000 bytes. */
const CIFAR10_MAX_ENTRY_BYTES = 32_000_000;

/** A mirror of the official tarball, for machines that cannot reach the default host (same checksum expected). */
export const CIFAR10_URL_ENV = 'KILN_CIFAR10_URL';

/** The address a download without --url uses: $KILN_CIFAR10_URL when set, else the official host. */
export function defaultCifar10Url(env: NodeJS.ProcessEnv = process.env): string {
  return env[CIFAR10_URL_ENV]?.trim() || CIFAR10_URL;
}

export interface DownloadCifar10Options {
  /** Defaults to defaultCifar10Url(). */
  url?: string;
  /** A tarball already on disk, used instead of any download (and left where it is). */
  file?: string;
  sha256?: string;
  md5?: string;
  /** Defaults to "cifar10". */
  id?: string;
  name?: string;
  /** Attempts after a dropped connection (default 5). */
  maxRetries?: number;
  retryDelayMs?: number;
  /** The system's proxy (the app passes Electron's); direct connections otherwise. */
  proxyFor?: ProxyResolver;
}

export interface DownloadCifar10Summary {
  id: string;
  name: string;
  imageSize: number;
  classes: { name: string; train: number; val: number }[];
  train: number;
  val: number;
  bytes: number;
  resumedFrom: number;
  retries: number;
  checksum: { algorithm: 'sha256' | 'md5'; value: string } | null;
  seconds: number;
  warnings: string[];
}

/** Where a download from `url` is kept while it runs: under the store (the final rename's disk), named after the URL so reruns resume it. */
function partFile(store: DatasetStore, url: string): string {
  return path.join(store.root, '.downloads', `${crypto.createHash('sha256').update(url).digest('hex').slice(0, 16)}.part`);
}

export async function downloadCifar10(
  store: DatasetStore,
  options: DownloadCifar10Options,
  onProgress: (e: DownloadProgressEvent) => void = () => {},
  signal?: AbortSignal,
): Promise<DownloadCifar10Summary> {
  // 'done' goes out once nothing is held any more: a caller that hears it and asks again finds no download running.
  const done = (summary: DownloadCifar10Summary) => {
    onProgress({ phase: 'done', id: summary.id, seconds: summary.seconds });
    return summary;
  };
  if (options.file !== undefined) return done(await fetchCifar10(store, options, onProgress, signal));
  // One writer per partial file across processes (the app and `kiln dataset download`): two would interleave its bytes.
  const part = partFile(store, options.url ?? defaultCifar10Url());
  await fs.promises.mkdir(path.dirname(part), { recursive: true });
  const release = await acquireLockFile(
    `${part}.lock`,
    (h) => new UsageError(`CIFAR-10 is being downloaded by another Kiln process (pid ${h.pid} on ${h.hostname}); wait for it to finish`),
    { heartbeat: true },
  );
  let summary: DownloadCifar10Summary;
  try {
    summary = await fetchCifar10(store, options, onProgress, signal);
  } finally {
    await release();
  }
  return done(summary);
}

async function fetchCifar10(
  store: DatasetStore,
  options: DownloadCifar10Options,
  onProgress: (e: DownloadProgressEvent) => void,
  signal?: AbortSignal,
): Promise<DownloadCifar10Summary> {
  const started = performance.now();
  if (options.file !== undefined && options.url !== undefined) throw new UsageError('give either --file or --url, not both');
  const file = options.file !== undefined ? path.resolve(options.file) : null;
  const url = file ? pathToFileURL(file).href : (options.url ?? defaultCifar10Url());
  const id = options.id ?? 'cifar10';
  const name = options.name ?? 'CIFAR-10';
  const warnings: string[] = [];
  // A file on disk or the default address (official host or mirror) is the official tarball unless a checksum says otherwise.
  const checksum = pickChecksum(options, file !== null || options.url === undefined || options.url === CIFAR10_URL);
  if (!checksum) warnings.push(`no --sha256 or --md5 given for ${url}: the download was not verified`);
  if (await store.has(id)) throw new UsageError(`dataset "${id}" already exists; remove it first with \`kiln dataset rm ${id}\``);

  let tarball: string;
  let bytes: number;
  let dl: { resumedFrom: number; retries: number } = { resumedFrom: 0, retries: 0 };
  if (file) {
    bytes = await localTarballSize(file);
    tarball = file;
  } else {
    tarball = partFile(store, url);
    try {
      const got = await downloadWithResume({
        url,
        file: tarball,
        signal,
        onProgress,
        maxRetries: options.maxRetries,
        retryDelayMs: options.retryDelayMs,
        proxyFor: options.proxyFor,
        maxBytes: CIFAR10_MAX_DOWNLOAD_BYTES,
      });
      dl = got;
      bytes = got.bytes;
    } catch (err) {
      // Offline, or the host is blocked: say how to get the data another way.
      if (err instanceof DataError && err.message.startsWith('cannot reach ')) throw new DataError(`${err.message}\n${OTHER_SOURCES}`);
      throw err;
    }
  }
  // Only a download is Kiln's to delete; a file the user named stays where it is.
  const drop = async () => {
    if (!file) await discard(tarball);
  };

  if (checksum) {
    onProgress({ phase: 'verify', algorithm: checksum.algorithm });
    const actual = await hashFile(tarball, checksum.algorithm, signal);
    if (actual !== checksum.value) {
      await drop();
      const official = checksum.algorithm === 'md5' && checksum.value === CIFAR10_MD5 && !options.md5;
      throw new DataError(
        `checksum mismatch for ${file ?? url}: expected ${checksum.algorithm} ${checksum.value}${official ? " (the official tarball's)" : ''}, got ${actual}` +
          (official ? `; for another copy of CIFAR-10 in the same format, give its checksum with --sha256 or --md5` : ''),
      );
    }
  } else {
    onProgress({ phase: 'verify', algorithm: null });
  }

  let parsed: Awaited<ReturnType<typeof unpack>>;
  try {
    parsed = await unpack(tarball, bytes, onProgress, signal);
  } catch (err) {
    if (!signal?.aborted && err instanceof DataError) await drop();
    throw err;
  }
  onProgress({ phase: 'write', images: parsed.train.count + parsed.val.count });
  const manifest = await store.create(
    {
      id,
      name,
      source: { kind: 'cifar10', url, checksum: checksum ? `${checksum.algorithm}:${checksum.value}` : null },
      imageSize: CIFAR10_SIZE,
      classes: parsed.classes,
      train: parsed.train,
      // The official test set is the validation split: CIFAR-10 has no other held-out data.
      val: parsed.val,
    },
    signal,
  );
  await drop();
  const seconds = (performance.now() - started) / 1000;
  return {
    id,
    name: manifest.name,
    imageSize: manifest.imageSize,
    classes: manifest.classes.map((c, i) => ({ name: c, train: manifest.classCounts.train[i], val: manifest.classCounts.val[i] })),
    train: manifest.counts.train,
    val: manifest.counts.val,
    bytes,
    resumedFrom: dl.resumedFrom,
    retries: dl.retries,
    checksum,
    seconds,
    warnings,
  };
}

/** Said when the host cannot be reached: every other way in. */
export const OTHER_SOURCES = `Other ways: \`kiln dataset download cifar10 --url URL\` (a mirror), --file PATH (a cifar-10-binary.tar.gz already on disk), or set ${CIFAR10_URL_ENV}=URL.`;

async function localTarballSize(file: string): Promise<number> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`--file ${file}: no such file`);
    throw err;
  }
  if (!st.isFile()) throw new UsageError(`--file ${file}: not a file (expected cifar-10-binary.tar.gz)`);
  if (st.size > CIFAR10_MAX_DOWNLOAD_BYTES)
    throw new UsageError(`--file ${file}: ${st.size} bytes, more than CIFAR-10's tarball (at most ${CIFAR10_MAX_DOWNLOAD_BYTES})`);
  return st.size;
}

function pickChecksum(options: DownloadCifar10Options, official: boolean): { algorithm: 'sha256' | 'md5'; value: string } | null {
  if (options.sha256 && options.md5) throw new UsageError('give either --sha256 or --md5, not both');
  if (options.sha256) {
    const v = options.sha256.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(v)) throw new UsageError(`--sha256: expected 64 hex digits, got "${options.sha256}"`);
    return { algorithm: 'sha256', value: v };
  }
  if (options.md5) {
    const v = options.md5.toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(v)) throw new UsageError(`--md5: expected 32 hex digits, got "${options.md5}"`);
    return { algorithm: 'md5', value: v };
  }
  return official ? { algorithm: 'md5', value: CIFAR10_MD5 } : null;
}

async function unpack(file: string, totalBytes: number, onProgress: (e: DownloadProgressEvent) => void, signal?: AbortSignal) {
  const wanted = new Set([...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE, CIFAR10_META_FILE]);
  const found = new Map<string, Buffer>();
  let read = 0;
  const emit = throttle(onProgress, 100);
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      read += chunk.length;
      emit({ phase: 'unpack', bytes: read, totalBytes });
      cb(null, chunk);
    },
  });
  const source = fs.createReadStream(file, { highWaterMark: 1 << 20, signal });
  const gunzip = zlib.createGunzip({ chunkSize: 1 << 20 }); // 16 KB chunks make gunzip of 180 MB twice as slow
  // Errors of the file or gunzip stages surface through the last stream, which the tar reader iterates.
  source.on('error', (err) => gunzip.destroy(err));
  counter.on('error', (err) => gunzip.destroy(err));
  const stream = source.pipe(counter).pipe(gunzip);
  try {
    for await (const entry of tarEntries(stream, (n) => wanted.has(path.posix.basename(n)), { maxEntryBytes: CIFAR10_MAX_ENTRY_BYTES })) {
      const base = path.posix.basename(entry.name);
      if (entry.type === 'file' && wanted.has(base)) found.set(base, entry.data);
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (err instanceof DataError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_') || code === 'ERR_STREAM_PREMATURE_CLOSE') throw new DataError(`corrupt archive: ${(err as Error).message}`);
    throw err;
  } finally {
    stream.destroy();
    source.destroy();
  }
  emit({ phase: 'unpack', bytes: totalBytes, totalBytes }, true);
  const missing = [...wanted].filter((n) => !found.has(n));
  if (missing.length > 0) throw new DataError(`corrupt archive: not a CIFAR-10 binary tarball, missing ${missing.join(', ')}`);
  const classes = parseCifarMeta(found.get(CIFAR10_META_FILE)!.toString('utf8'));
  const train = parseCifarBatches(CIFAR10_TRAIN_FILES.map((n) => ({ name: n, data: found.get(n)! })));
  found.forEach((_v, k) => k.startsWith('data_batch') && found.delete(k));
  const val = parseCifarBatches([{ name: CIFAR10_TEST_FILE, data: found.get(CIFAR10_TEST_FILE)! }]);
  return { classes, train, val };
}

async function discard(part: string): Promise<void> {
  await fs.promises.rm(part, { force: true });
  await fs.promises.rm(`${part}.json`, { force: true });
}
