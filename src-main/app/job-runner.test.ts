import { describe, expect, it } from 'vitest';
import { createJobRunner, type JobProcess } from './job-runner.ts';

/** A job process the test drives: it answers what the test tells it to and records a kill. */
function fakeProcess() {
  let onMessage: (m: unknown) => void = () => {};
  let onExit: (code: number | null) => void = () => {};
  const proc = {
    killed: false,
    sent: [] as unknown[],
    emit: (m: unknown) => onMessage(m),
    exit: (code: number | null) => onExit(code),
    send: (m: unknown) => proc.sent.push(m),
    onMessage: (l: (m: unknown) => void) => (onMessage = l),
    onExit: (l: (code: number | null) => void) => (onExit = l),
    kill: () => {
      proc.killed = true;
    },
  };
  return proc;
}

const request = { kind: 'lrFind' as const, home: '/tmp/x', config: {} as never };

describe('createJobRunner', () => {
  it('passes progress on and resolves with the result', async () => {
    const proc = fakeProcess();
    const seen: unknown[] = [];
    const result = createJobRunner(() => proc as JobProcess)<number>(request, { onProgress: (p) => seen.push(p) });
    proc.emit({ type: 'progress', event: { step: 1 } });
    proc.emit({ type: 'progress', event: { step: 2 } });
    proc.emit({ type: 'result', result: 42 });
    await expect(result).resolves.toBe(42);
    expect(seen).toEqual([{ step: 1 }, { step: 2 }]);
  });

  it('asks the job to stop when cancelled and rejects with its AbortError', async () => {
    const proc = fakeProcess();
    const controller = new AbortController();
    const result = createJobRunner(() => proc as JobProcess)<number>(request, { signal: controller.signal });
    controller.abort();
    expect(proc.sent).toContainEqual({ type: 'cancel' });
    // The job stops at its next step and says so (job-entry's LR finder throws an AbortError).
    proc.emit({ type: 'error', error: { name: 'AbortError', message: 'learning-rate finder cancelled' } });
    await expect(result).rejects.toMatchObject({ name: 'AbortError', message: 'learning-rate finder cancelled' });
    proc.exit(0);
  });
});
