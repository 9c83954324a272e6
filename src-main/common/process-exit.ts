/**
 * What is known about a child process's end beyond its exit code: why Chromium says it went (Electron's
 * `child-process-gone` / `render-process-gone` reason: 'killed', 'crashed', 'oom', …) and the last lines it wrote
 * to stderr (a V8 "heap limit" abort, a native assertion). Hosts fill in what they know; run records and logs
 * say it, so a trainer killed by the OS leaves a trace.
 */
export interface ExitDetail {
  reason?: string;
  stderrTail?: string[];
}

/** "exit code 1", "killed by SIGKILL", "reason oom, exit code 9". */
export function describeExit(code: number | null, signal: string | null, detail?: ExitDetail): string {
  const how = signal ? `killed by ${signal}` : `exit code ${code ?? 'unknown'}`;
  return detail?.reason ? `reason ${detail.reason}, ${how}` : how;
}

/** The last non-empty stderr line, for a one-line message; the log gets them all. */
export function lastStderrLine(detail?: ExitDetail): string | undefined {
  return detail?.stderrTail
    ?.filter((l) => l.trim())
    .at(-1)
    ?.trim();
}

/** A process's stderr tail as log detail: "its last lines on stderr:" and the lines, or nothing. */
export function stderrTailForLog(detail?: ExitDetail): string | undefined {
  const lines = detail?.stderrTail?.filter((l) => l.trim());
  return lines?.length ? `last lines on stderr:\n${lines.join('\n')}` : undefined;
}

/** Keeps the last `max` whole lines written to a stream (each cut to `maxChars`). */
export class LineTail {
  private readonly kept: string[] = [];
  private pending = '';

  constructor(
    private readonly max = 20,
    private readonly maxChars = 500,
  ) {}

  push(text: string): void {
    const parts = (this.pending + text).split('\n');
    this.pending = parts.pop()!.slice(-this.maxChars);
    for (const line of parts) this.keep(line);
  }

  lines(): string[] {
    return this.pending ? [...this.kept, this.pending] : [...this.kept];
  }

  private keep(line: string): void {
    this.kept.push(line.length > this.maxChars ? `${line.slice(0, this.maxChars)}…` : line);
    if (this.kept.length > this.max) this.kept.shift();
  }
}

/**
 * A child (trainer, job) that ended by SIGKILL that this host did not send (the kernel's OOM killer; a container's limit), that
 * Chromium says went for 'oom', or whose last words are V8's or the allocator's out-of-memory abort.
 */
export function looksOutOfMemory(
  exit: { code: number | null; signal?: string | null; detail?: ExitDetail } | undefined,
  killedByHost: boolean,
): boolean {
  if (!exit) return false;
  if (exit.detail?.reason === 'oom') return true;
  if (/out of memory|allocation failed|heap limit|cannot allocate memory|std::bad_alloc/i.test((exit.detail?.stderrTail ?? []).join('\n')))
    return true;
  // SIGKILL, or as Electron reports a utility process the OS killed: 'killed' with exit code 137 (128 + 9).
  const sigkill = exit.signal === 'SIGKILL' || (exit.detail?.reason === 'killed' && exit.code === 137);
  return sigkill && !killedByHost;
}
