import { formatBytesDecimal } from '../../src-shared/dataset-size.ts';
import type { DownloadProgressEvent, ImportProgressEvent } from '../../src-shared/dataset-progress.ts';

/**
 * Run a long job with a progress line. Ctrl-C cancels it cleanly (temp files removed, a partial download
 * kept for resume) instead of killing it mid-write, and exits 130.
 */
export async function cancellableJob(job: (bar: ProgressLine, signal: AbortSignal) => Promise<number>): Promise<number> {
  const bar = new ProgressLine();
  const controller = new AbortController();
  const onSig = () => controller.abort(new Error('cancelled'));
  process.once('SIGINT', onSig);
  try {
    return await job(bar, controller.signal);
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    bar.clear();
    console.error('kiln: cancelled');
    return 130;
  } finally {
    bar.clear();
    process.off('SIGINT', onSig);
  }
}

/** One self-overwriting status line on stderr, drawn only on a terminal so logs and pipes stay clean. */
export class ProgressLine {
  private readonly tty = Boolean(process.stderr.isTTY);
  private shown = false;

  download(e: DownloadProgressEvent): void {
    if (e.phase === 'download') {
      const frac = e.totalBytes ? e.bytes / e.totalBytes : null;
      const eta = e.etaSeconds !== null ? ` ETA ${fmtDuration(e.etaSeconds)}` : '';
      this.draw(`downloading ${bar(frac)} ${fmtBytes(e.bytes)}${e.totalBytes ? ` / ${fmtBytes(e.totalBytes)}` : ''} ${fmtBytes(e.bytesPerSecond)}/s${eta}`);
    } else if (e.phase === 'retry') {
      this.clear();
      console.error(`connection lost (${e.reason}); resuming from ${fmtBytes(e.resumeFrom)} (attempt ${e.attempt + 1})`);
    } else if (e.phase === 'verify') this.draw(e.algorithm ? `verifying ${e.algorithm}…` : 'no checksum to verify');
    else if (e.phase === 'unpack') this.draw(`unpacking   ${bar(e.bytes / e.totalBytes)}`);
    else if (e.phase === 'write') this.draw(`writing ${fmtInt(e.images)} images…`);
  }

  import(e: ImportProgressEvent): void {
    if (e.phase === 'scan') this.draw(`found ${fmtInt(e.files)} image files`);
    else if (e.phase === 'decode') {
      const eta = e.etaSeconds !== null ? ` ETA ${fmtDuration(e.etaSeconds)}` : '';
      this.draw(`decoding ${bar(e.total ? e.done / e.total : 1)} ${fmtInt(e.done)}/${fmtInt(e.total)} ${e.imagesPerSecond.toFixed(0)} img/s${eta}${e.skipped ? ` (${e.skipped} skipped)` : ''}`);
    } else if (e.phase === 'write') this.draw(`writing ${fmtInt(e.images)} images…`);
  }

  clear(): void {
    if (this.tty && this.shown) process.stderr.write('\r\x1b[2K');
    this.shown = false;
  }

  private draw(text: string): void {
    if (!this.tty) return;
    const width = process.stderr.columns || 100;
    process.stderr.write(`\r\x1b[2K${text.slice(0, width - 1)}`);
    this.shown = true;
  }
}

function bar(frac: number | null, width = 24): string {
  if (frac === null) return `[${'?'.repeat(width)}]`;
  const f = Math.max(0, Math.min(1, frac));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}

export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Decimal units, as download sites and the README give sizes (CIFAR-10's 170,052,171 bytes are "170 MB"). */
export const fmtBytes = formatBytesDecimal;

export function fmtDuration(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
}
