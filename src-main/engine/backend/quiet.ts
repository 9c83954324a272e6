import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';

/** KILN_DEBUG lets every third-party banner and warning through, for bug reports. */
export const debugOutput = (): boolean => Boolean(process.env.KILN_DEBUG);

/**
 * tfjs's own warnings (the cpu backend's "install our node backend" banner, "Platform node has already been
 * set", kernel re-registration notes) all go through its `warn`, which the PROD flag mutes. PROD changes
 * nothing else in tfjs-core 4.22.
 */
export function quietTfjs(): void {
  if (!debugOutput()) tf.env().set('PROD', true);
}

/**
 * Runs `fn` with file descriptor 2 pointed at /dev/null, for native code (Dawn) that writes warnings straight
 * to stderr, where no JavaScript hook can catch them. Node has no dup(); reopening /proc/self/fd/2 (or
 * /dev/fd/2) gives a second descriptor for the same terminal, pipe or file, and close + open reuse the lowest
 * free number, which is 2. Where any of that is impossible (Windows, a socket as stderr, fd 0 or 1 closed)
 * `fn` simply runs unsilenced. Node's own writes to stderr in the window are dropped too, so keep it short.
 *
 * Never inside an Electron process (`versions.electron`): Chromium's threads there (and Electron's own stderr
 * pipe to the parent) would see fd 2 closed and reopened under them, and another thread's open() could take
 * number 2 in the gap. Electron's children are piped and filtered by the parent instead (forwardStderr).
 */
export async function withNativeStderrSilenced<T>(fn: () => Promise<T>, versions: NodeJS.ProcessVersions = process.versions): Promise<T> {
  if (debugOutput() || process.platform === 'win32' || versions.electron) return fn();
  const fdDir = fs.existsSync('/proc/self/fd') ? '/proc/self/fd' : '/dev/fd';
  let saved: number;
  try {
    // With fd 0 or 1 closed, the lowest free number would not be 2.
    fs.fstatSync(0);
    fs.fstatSync(1);
    saved = fs.openSync(`${fdDir}/2`, 'a');
  } catch {
    return fn();
  }
  fs.closeSync(2);
  fs.openSync('/dev/null', 'a');
  try {
    return await fn();
  } finally {
    fs.closeSync(2);
    const back = fs.openSync(`${fdDir}/${saved}`, 'a');
    fs.closeSync(saved);
    if (back !== 2) {
      // Something took fd 2 in the gap; leave stderr where it is rather than guess (should never happen).
      fs.closeSync(back);
    }
  }
}
