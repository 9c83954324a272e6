import fs from 'node:fs';
import path from 'node:path';

export type LogLevel = 'info' | 'warn' | 'error';

export interface LogLimits {
  /** A day's file is rotated (to YYYY-MM-DD.N.log) when it would grow past this. */
  maxFileBytes?: number;
  /** Log files last written longer ago than this are deleted. */
  maxAgeDays?: number;
  /** The oldest files go while all of them together are over this. */
  maxTotalBytes?: number;
}

const LOG_FILE = /^\d{4}-\d{2}-\d{2}(\.\d+)?\.log$/;

/**
 * One log file per local day under `<home>/logs/YYYY-MM-DD.log`, appended line by line.
 * Writes are synchronous appends: an error logged just before a crash still reaches the disk,
 * and logging never throws into the caller (a full disk must not take the host down). Files are
 * rotated by size and removed by age and total size, so no flood of lines fills the disk.
 */
export class DailyLog {
  readonly dir: string;
  private readonly limits: Required<LogLimits>;
  /** The file being appended to and its size, so a write needs no stat. */
  private current: { file: string; size: number } | undefined;
  private pruned = false;

  constructor(home: string, limits: LogLimits = {}) {
    this.dir = path.join(path.resolve(home), 'logs');
    this.limits = { maxFileBytes: 16 * 1024 ** 2, maxAgeDays: 14, maxTotalBytes: 128 * 1024 ** 2, ...limits };
  }

  fileFor(date = new Date()): string {
    const p = (n: number) => String(n).padStart(2, '0');
    return path.join(this.dir, `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}.log`);
  }

  info(message: string): void {
    this.write('info', message);
  }

  warn(message: string, err?: unknown): void {
    this.write('warn', message, err);
  }

  error(message: string, err?: unknown): void {
    this.write('error', message, err);
  }

  write(level: LogLevel, message: string, err?: unknown): void {
    const now = new Date();
    let text = `${now.toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`;
    if (err !== undefined) {
      const detail = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
      // Indent the stack so each entry still starts with a timestamp.
      text +=
        '\n' +
        detail
          .split('\n')
          .map((l) => `    ${l}`)
          .join('\n');
    }
    text += '\n';
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      const file = this.fileFor(now);
      if (this.current?.file !== file) this.current = { file, size: fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0 };
      const bytes = Buffer.byteLength(text);
      if (this.current.size > 0 && this.current.size + bytes > this.limits.maxFileBytes) this.rotate(file);
      if (!this.pruned) this.prune();
      fs.appendFileSync(file, text);
      this.current.size += bytes;
    } catch {
      // Nowhere better to report it; the caller's own error handling still runs.
    }
  }

  /** The day's full file becomes YYYY-MM-DD.N.log (the next free N); a fresh one starts. */
  private rotate(file: string): void {
    const base = file.slice(0, -'.log'.length);
    let n = 1;
    while (fs.existsSync(`${base}.${n}.log`)) n++;
    fs.renameSync(file, `${base}.${n}.log`);
    this.current = { file, size: 0 };
    this.prune();
  }

  /** Delete log files older than maxAgeDays, then the oldest while the rest are over maxTotalBytes. */
  private prune(): void {
    this.pruned = true;
    const files = fs
      .readdirSync(this.dir)
      .filter((n) => LOG_FILE.test(n))
      .map((n) => {
        const p = path.join(this.dir, n);
        const st = fs.statSync(p);
        return { p, mtime: st.mtimeMs, size: st.size };
      })
      .sort((a, b) => a.mtime - b.mtime);
    const cutoff = Date.now() - this.limits.maxAgeDays * 86_400_000;
    let total = files.reduce((a, f) => a + f.size, 0);
    for (const f of files) {
      if (f.p === this.current?.file) continue;
      if (f.mtime >= cutoff && total <= this.limits.maxTotalBytes) continue;
      fs.rmSync(f.p, { force: true });
      total -= f.size;
    }
  }
}
