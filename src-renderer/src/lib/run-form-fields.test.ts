import { describe, expect, it } from 'vitest';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../../../src-shared/run-config.ts';
import { parseNumberText } from './number-text.ts';
import { firstFieldProblem, RUN_FIELDS, runConfigErrors } from './run-form-fields.ts';

const withOpt = (opt: Partial<RunConfig['opt']>) => ({ ...DEFAULT_RUN_CONFIG, opt: { ...DEFAULT_RUN_CONFIG.opt, ...opt } });

describe('number text', () => {
  it('reads what people type for small numbers, and nothing else', () => {
    expect(parseNumberText('1e-3')).toBe(0.001);
    expect(parseNumberText('.1')).toBe(0.1);
    expect(parseNumberText(' 5e-4 ')).toBe(5e-4);
    expect(parseNumberText('-2.5E+1')).toBe(-25);
    expect(parseNumberText('')).toBeNull();
    // Half-typed: not a number yet, and not silently some other number.
    for (const t of ['1e', '1e-', '.', '-', '0x10', 'Infinity', '1,5', '1e999']) expect(parseNumberText(t)).toBeNaN();
  });
});

describe('run form checks', () => {
  it('the defaults are valid: null is auto in every field', () => {
    expect(runConfigErrors(DEFAULT_RUN_CONFIG)).toEqual({});
    expect(firstFieldProblem({})).toBe('');
  });

  it('a half-typed number, a bound and momentum min above max are each named at their field', () => {
    expect(runConfigErrors(withOpt({ lrMax: NaN }))).toEqual({ 'opt.lrMax': 'Expected a number.' });
    expect(runConfigErrors(withOpt({ labelSmoothing: 1.5 }))).toEqual({ 'opt.labelSmoothing': 'At most 0.99.' });
    expect(runConfigErrors(withOpt({ momentumMax: 0.9, momentumMin: 0.95 }))).toEqual({
      'opt.momentumMin': 'Momentum min must not be above momentum max',
    });
    const two = runConfigErrors(withOpt({ lrMax: NaN, weightDecay: 2 }));
    expect(firstFieldProblem(two)).toBe('Max learning rate: Expected a number. (and 1 more field)');
  });

  it('every number and choice in the config has a label and one line of help', () => {
    const paths = (o: object, at = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) =>
        v && typeof v === 'object' && !Array.isArray(v) && k !== 'arch' ? paths(v, `${at}${k}.`) : [`${at}${k}`],
      );
    for (const p of paths(DEFAULT_RUN_CONFIG).filter(
      (p) => !['net.arch', 'opt.startDiv', 'opt.finalDiv', 'opt.shape', 'opt.wdExcludeBnBias'].includes(p),
    )) {
      expect(RUN_FIELDS[p]?.help, p).toMatch(/\w/);
    }
  });
});
