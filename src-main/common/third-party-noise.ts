import type { Readable, Writable } from 'node:stream';

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

/**
 * Copies a child process's stderr to `to` line by line without the noise (unless KILN_DEBUG is set), so a
 * trainer's Dawn warnings reach neither the terminal nor a server's log. Whole lines only: a line is held
 * back until its newline arrives (or the stream ends).
 */
export function forwardStderr(from: Readable, to: Writable = process.stderr): void {
  let pending = '';
  from.setEncoding('utf8');
  from.on('data', (chunk: string) => {
    const text = pending + chunk;
    const cut = text.lastIndexOf('\n') + 1;
    pending = text.slice(cut);
    const out = stripThirdPartyNoise(text.slice(0, cut));
    if (out) to.write(out);
  });
  from.on('end', () => {
    const out = stripThirdPartyNoise(pending);
    if (out) to.write(out);
  });
  // A parent whose own stderr went away has nowhere to forward to; that must not crash it.
  from.on('error', () => undefined);
}
