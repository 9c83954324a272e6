import fs from 'node:fs';

/**
 * Test-only fault injection for the crash-safety tests, off unless a KILN_TEST_* variable is set.
 * Every store file operation that matters for crash safety calls `faultPoint` right after it:
 * - KILN_TEST_OP_LOG=FILE appends "<n> <op> <detail>" per operation (synchronously, so it is on
 *   disk before a kill);
 * - KILN_TEST_KILL_AT="<op> <detail>" sends SIGKILL to this process right after that operation;
 * - KILN_TEST_ENOSPC_OP=NAME makes `injectedDiskFull(NAME)` throw ENOSPC, as a full disk would.
 */
let count = 0;

export function faultPoint(op: string, detail: string): void {
  const log = process.env.KILN_TEST_OP_LOG;
  const killAt = process.env.KILN_TEST_KILL_AT;
  if (!log && !killAt) return;
  count++;
  if (log) fs.appendFileSync(log, `${count} ${op} ${detail}\n`);
  if (killAt === `${op} ${detail}`) process.kill(process.pid, 'SIGKILL');
}

export function injectedDiskFull(op: string, file: string): void {
  if (process.env.KILN_TEST_ENOSPC_OP !== op) return;
  const err = new Error(`ENOSPC: no space left on device, write '${file}'`) as NodeJS.ErrnoException;
  err.code = 'ENOSPC';
  err.path = file;
  err.syscall = 'write';
  throw err;
}
