import { WARMUP_STEPS } from './session-callbacks.ts';

/**
 * Seconds left for a loop of `total` steps, from the time per step measured after the first WARMUP_STEPS (which
 * compile kernels and ran about twice as slow): null until a step past the warm-up has been timed.
 */
export class StepEta {
  private warm: { step: number; at: number } | null = null;
  constructor(
    private readonly total: number,
    private readonly now: () => number = () => performance.now() / 1000,
  ) {}

  /** Call as step `step` (1-based) ends. */
  tick(step: number): number | null {
    const t = this.now();
    if (step <= WARMUP_STEPS || !this.warm) {
      if (step >= WARMUP_STEPS && !this.warm) this.warm = { step, at: t };
      return null;
    }
    const perStep = (t - this.warm.at) / (step - this.warm.step);
    return Math.max(0, this.total - step) * perStep;
  }
}
