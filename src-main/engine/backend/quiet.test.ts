import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * What fd 2 is during withNativeStderrSilenced's call, and whether it is the same file after: in a child process
 * whose stderr is a file (a test worker's is a socket, and sockets cannot be reopened: the function leaves them).
 */
function fd2Around(electron: boolean): { devNullDuring: boolean; sameAfter: boolean } {
  const quiet = pathToFileURL(new URL('./quiet.ts', import.meta.url).pathname).href;
  const code = `
    import fs from 'node:fs';
    const { withNativeStderrSilenced } = await import(${JSON.stringify(quiet)});
    const versions = ${electron} ? { ...process.versions, electron: '45.5.0' } : process.versions;
    const before = fs.fstatSync(2);
    let during;
    await withNativeStderrSilenced(async () => void (during = fs.fstatSync(2)), versions);
    const after = fs.fstatSync(2);
    const devNull = fs.statSync('/dev/null');
    console.log(JSON.stringify({ devNullDuring: during.rdev === devNull.rdev && during.ino === devNull.ino, sameAfter: after.dev === before.dev && after.ino === before.ino }));`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-quiet-'));
  const stdin = fs.openSync('/dev/null', 'r');
  const stderr = fs.openSync(path.join(dir, 'stderr'), 'w');
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: [stdin, 'pipe', stderr],
      encoding: 'utf8',
    });
    return JSON.parse(out);
  } finally {
    fs.closeSync(stdin);
    fs.closeSync(stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(process.platform === 'win32')('withNativeStderrSilenced', () => {
  it('leaves stderr alone inside an Electron process (no fd juggling there)', () => {
    expect(fd2Around(true)).toEqual({ devNullDuring: false, sameAfter: true });
  });

  it('points fd 2 at /dev/null for the call under plain Node, and back after', () => {
    expect(fd2Around(false)).toEqual({ devNullDuring: true, sameAfter: true });
  });
});
