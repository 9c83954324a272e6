import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../../src-shared/run-types.ts';
import { endNotice, startedFromText } from './run-identity.ts';
import { RUN_COLUMNS } from './run-columns.ts';

const base = {
  status: 'finished',
  wallSeconds: 95,
  resolved: { config: { opt: { freezeEpochs: 0 } } },
  best: { valAcc: 0.68, epoch: 7 },
  final: { valAcc: 0.67, ttaAcc: 0.68, valLoss: 1 },
} as unknown as RunRecord;

describe('run identity', () => {
  it('says what a run started from, and how long its body was frozen', () => {
    expect(startedFromText(base)).toBe('random weights (from scratch)');
    const tuned = {
      ...base,
      resolved: { config: { opt: { freezeEpochs: 2 } } },
      origin: {
        runId: 'a',
        runName: 'photos · resnet-9-s · 1',
        checkpoint: 'best',
        epoch: 12,
        valAcc: 0.77,
        dataset: { id: 'p', name: 'photos' },
        head: 'reinitialised',
      },
    } as unknown as RunRecord;
    expect(startedFromText(tuned)).toBe(
      'run “photos · resnet-9-s · 1” (photos, its best weights from epoch 12, val 77.0%); head drawn afresh (other classes); body frozen for the first 2 epochs',
    );
  });

  it('gives a finished notice, and a diverged one with the advice', () => {
    expect(endNotice(base)).toEqual({ kind: 'ok', text: 'Finished in 1m 35s: best val 68.0% at epoch 7, TTA 68.00%.' });
    const diverged = {
      ...base,
      status: 'diverged',
      hint: 'diverged at step 12 (epoch 1, learning rate 13): …; try 1.3',
    } as unknown as RunRecord;
    expect(endNotice(diverged)!.kind).toBe('bad');
    expect(endNotice(diverged)!.text).toMatch(/^Stopped: the run diverged at step 12 .*checkpoint of the last complete epoch is kept/);
    expect(endNotice({ ...base, status: 'running' } as RunRecord)).toBeNull();
  });

  it('shows one TTA figure: the evaluation’s, as Evaluate does', () => {
    const tta = RUN_COLUMNS.find((c) => c.key === 'tta')!;
    const evaluated = { ...base, evaluation: { checkpoint: 'best', epoch: 7, valAcc: 0.6812, ttaAcc: 0.6863 } } as unknown as RunRecord;
    expect(tta.show(evaluated)).toBe('68.63%');
  });
});
