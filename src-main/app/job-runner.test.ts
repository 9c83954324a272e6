import { describe, expect, it } from 'vitest';
import { createJobRunner } from './job-runner.ts';
import type { Transport } from '../common/child-channel.ts';

/** A job process the test drives: it answers what the test tells it to and records a kill. */
function fakeProcess() {
  let onMessage: (m: unknown) => void = () => {};
  let onExit: (e: { code: number | null; signal: null }) => void = () => {};
  const proc = {
    killed: false,
    sent: [] as unknown[],
    emit: (m: unknown) => onMessage(m),
    exit: (code: number | null) => onExit({ code, signal: null }),
    send: (m: unknown) => proc.sent.push(m),
    onMessage: (l: (m: unknown) => void) => (onMessage = l),
    onExit: (l: typeof onExit) => (onExit = l),
    kill: () => {
      proc.killed = true;
    },
  };
  return proc;
}

/** A transport that hands out `proc` for every job. */
const over = (proc: ReturnType<typeof fakeProcess>): Transport => (() => proc) as unknown as Transport;

const request = { kind: 'lrFind' as const, home: '/tmp/x', config: {} as never };

describe('createJobRunner', () => {
  it('passes progress on and resolves with the result', async () => {
    const proc = fakeProcess();
    const seen: unknown[] = [];
    const result = createJobRunner(over(proc))(request, { onProgress: (p) => seen.push(p) });
    proc.emit({ type: 'progress', event: { step: 1 } });
    proc.emit({ type: 'progress', event: { step: 2 } });
    proc.emit({ type: 'result', result: { points: [] } });
    await expect(result).resolves.toEqual({ points: [] });
    expect(seen).toEqual([{ step: 1 }, { step: 2 }]);
  });

  it('asks the job to stop when cancelled and rejects with its AbortError', async () => {
    const proc = fakeProcess();
    const controller = new AbortController();
    const result = createJobRunner(over(proc))(request, { signal: controller.signal });
    controller.abort();
    expect(proc.sent).toContainEqual({ type: 'cancel' });
    // The job stops at its next step and says so (job-entry's LR finder throws an AbortError).
    proc.emit({ type: 'error', error: { name: 'AbortError', message: 'learning-rate finder cancelled' } });
    await expect(result).rejects.toMatchObject({ name: 'AbortError', message: 'learning-rate finder cancelled' });
    proc.exit(0);
  });
});
