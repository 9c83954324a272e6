import { describe, expect, it } from 'vitest';
import { createJobRunner, type JobProcess } from './job-runner.ts';

/** A job process the test drives: it answers what the test tells it to and records a kill. */
function fakeProcess() {
  let onMessage: (m: unknown) => void = () => {};
  let onExit: (code: number | null) => void = () => {};
  const proc = {
    killed: false,
    emit: (m: unknown) => onMessage(m),
    exit: (code: number | null) => onExit(code),
    send: () => {},
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
    proc.emit({ type: 'progress', progress: { step: 1 } });
    proc.emit({ type: 'progress', progress: { step: 2 } });
    proc.emit({ type: 'result', result: 42 });
    await expect(result).resolves.toBe(42);
    expect(seen).toEqual([{ step: 1 }, { step: 2 }]);
  });

  it('kills the process and rejects with an AbortError when cancelled', async () => {
    const proc = fakeProcess();
    const controller = new AbortController();
    const result = createJobRunner(() => proc as JobProcess)<number>(request, { signal: controller.signal });
    controller.abort();
    await expect(result).rejects.toMatchObject({ name: 'AbortError', message: 'learning-rate finder cancelled' });
    expect(proc.killed).toBe(true);
    // The kill's exit does not turn into a second answer.
    proc.exit(null);
  });
});
