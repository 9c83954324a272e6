import { describe, expect, it } from 'vitest';
import { RunConfigSchema, DEFAULT_RUN_CONFIG } from '../../../src-shared/run-config.ts';
import { parseArgs } from '../../../src-shared/contract.ts';
import { errorsByField, plainFieldMessage } from './errors.ts';
import { runConfigErrors } from './run-form-fields.ts';

describe('field errors in plain words', () => {
  it('rewords the validator and keys the message by field', () => {
    const bad = { ...DEFAULT_RUN_CONFIG, opt: { ...DEFAULT_RUN_CONFIG.opt, labelSmoothing: -1 } };
    let caught: unknown;
    try {
      parseArgs('runs.start', [bad]);
    } catch (err) {
      caught = err;
    }
    expect(errorsByField(caught)).toEqual({ 'opt.labelSmoothing': 'At least 0.' });
    expect(plainFieldMessage('Too big: expected number to be <=0.99')).toBe('At most 0.99.');
    expect(plainFieldMessage('Invalid input: expected int, received number')).toBe('Expected a whole number.');
    expect(plainFieldMessage('momentum min must not be above momentum max')).toBe('Momentum min must not be above momentum max');
  });

  it('refuses momentum min above momentum max, at the min field', () => {
    const inverted = { ...DEFAULT_RUN_CONFIG, opt: { ...DEFAULT_RUN_CONFIG.opt, momentumMin: 0.99, momentumMax: 0.95 } };
    expect(RunConfigSchema.safeParse(inverted).success).toBe(false);
    let caught: unknown;
    try {
      parseArgs('runs.start', [inverted]);
    } catch (err) {
      caught = err;
    }
    expect(Object.keys(errorsByField(caught))).toEqual(['opt.momentumMin']);
  });

  it('shows momentum min above momentum max while another field of the same group is empty or not a number', () => {
    const both = {
      ...DEFAULT_RUN_CONFIG,
      opt: { ...DEFAULT_RUN_CONFIG.opt, labelSmoothing: Number.NaN, momentumMin: 0.99, momentumMax: 0.95 },
    };
    expect(runConfigErrors(both)).toEqual({
      'opt.labelSmoothing': 'Expected a number.',
      'opt.momentumMin': 'Momentum min must not be above momentum max',
    });
  });
});
