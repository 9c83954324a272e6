import type { Readable, Writable } from 'node:stream';
import { LineTail } from './process-exit.ts';

/**
 * Lines third-party native code prints on its own, which Kiln reports better itself: Dawn clamps the adapter
 * limits of Mesa's (and some hardware) Vulkan drivers with a warning at every adapter enumeration.
 * tfjs's JavaScript warnings are muted at the source (quiet.ts); these come from C++ straight to fd 2.
 */
const NOISE = [/^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+/];

export function isThirdPartyNoise(line: string): boolean {
  return NOISE.some((re) => re.test(line));
}

/** Drops noise lines from a chunk of text; partial lines pass through untouched. */
export function stripThirdPartyNoise(text: string): string {
  if (process.env.KILN_DEBUG || !text.includes('Warning: ')) return text;
  return text
    .split(/(?<=\n)/)
    .filter((line) => !isThirdPartyNoise(line))
    .join('');
}

/** A forwarded stderr: its last lines (noise excluded), and when it has ended. */
export interface ForwardedStderr {
  tail: LineTail;
  ended: Promise<void>;
}

/**
 * Copies a child process's stderr to `to` line by line without the noise (unless KILN_DEBUG is set), so a
 * trainer's Dawn warnings reach neither the terminal nor a server's log. Whole lines only: a line is held
 * back until its newline arrives (or the stream ends). The last lines are kept for crash reports.
 */
export function forwardStderr(from: Readable, to: Writable = process.stderr): ForwardedStderr {
  let pending = '';
  const tail = new LineTail();
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const write = (text: string) => {
    const out = stripThirdPartyNoise(text);
    if (!out) return;
    tail.push(out);
    to.write(out);
  };
  from.setEncoding('utf8');
  from.on('data', (chunk: string) => {
    const text = pending + chunk;
    const cut = text.lastIndexOf('\n') + 1;
    pending = text.slice(cut);
    write(text.slice(0, cut));
  });
  from.on('end', () => {
    write(pending);
    ended();
  });
  from.on('close', ended);
  // A parent whose own stderr went away has nowhere to forward to; that must not crash it.
  from.on('error', () => ended());
  return { tail, ended: done };
}

/** The last stderr lines once the stream has ended (a process's last words can trail its exit), waiting at most `waitMs`. */
export async function finalStderrLines(forwarded: ForwardedStderr | undefined, waitMs = 500): Promise<string[] | undefined> {
  if (!forwarded) return undefined;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([forwarded.ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
  clearTimeout(timer);
  return forwarded.tail.lines();
}
