import { bar as drawBar, formatBytes, formatDuration, formatInt } from './format.ts';
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
      const eta = e.etaSeconds !== null ? ` ETA ${formatDuration(e.etaSeconds)}` : '';
      this.draw(
        `downloading ${bar(frac)} ${formatBytes(e.bytes)}${e.totalBytes ? ` / ${formatBytes(e.totalBytes)}` : ''} ${formatBytes(e.bytesPerSecond)}/s${eta}`,
      );
    } else if (e.phase === 'retry') {
      this.clear();
      console.error(`connection lost (${e.reason}); resuming from ${formatBytes(e.resumeFrom)} (attempt ${e.attempt + 1})`);
    } else if (e.phase === 'verify') this.draw(e.algorithm ? `verifying ${e.algorithm}…` : 'no checksum to verify');
    else if (e.phase === 'unpack') this.draw(`unpacking   ${bar(e.bytes / e.totalBytes)}`);
    else if (e.phase === 'write') this.draw(`writing ${formatInt(e.images)} images…`);
  }

  import(e: ImportProgressEvent): void {
    if (e.phase === 'scan') this.draw(`found ${formatInt(e.files)} image files`);
    else if (e.phase === 'decode') {
      const eta = e.etaSeconds !== null ? ` ETA ${formatDuration(e.etaSeconds)}` : '';
      this.draw(
        `decoding ${bar(e.total ? e.done / e.total : 1)} ${formatInt(e.done)}/${formatInt(e.total)} ${e.imagesPerSecond.toFixed(0)} img/s${eta}${e.skipped ? ` (${e.skipped} skipped)` : ''}`,
      );
    } else if (e.phase === 'write') this.draw(`writing ${formatInt(e.images)} images…`);
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

const bar = (fraction: number | null) => drawBar(fraction, 24, true);
