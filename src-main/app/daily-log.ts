import fs from 'node:fs';
import path from 'node:path';

export type LogLevel = 'info' | 'warn' | 'error';

/**
 * One log file per local day under `<home>/logs/YYYY-MM-DD.log`, appended line by line.
 * Writes are synchronous appends: an error logged just before a crash still reaches the disk,
 * and logging never throws into the caller (a full disk must not take the host down).
 */
export class DailyLog {
  readonly dir: string;

  constructor(home: string) {
    this.dir = path.join(path.resolve(home), 'logs');
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
      text += '\n' + detail.split('\n').map((l) => `    ${l}`).join('\n');
    }
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      fs.appendFileSync(this.fileFor(now), text + '\n');
    } catch {
      // Nowhere better to report it; the caller's own error handling still runs.
    }
  }
}
