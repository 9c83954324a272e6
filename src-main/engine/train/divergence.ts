import type { Callback, LearnerView, StepMetrics } from './learner.ts';

/** What a diverged run records: where it went wrong, and what to try. */
export interface Divergence {
  step: number;
  epoch: number;
  lr: number;
  /** The loss that ended it (null when not finite). */
  loss: number | null;
  /** The mean loss of the run's first steps, the yardstick. */
  startLoss: number;
  advice: string;
}

export interface DivergenceOptions {
  /** Steps whose mean loss is the starting value. */
  warmupSteps?: number;
  /** "Far above": more than this many times the starting loss (and at least `margin` above it). */
  factor?: number;
  margin?: number;
  /** For this many of the last `window` steps. A non-finite loss ends the run at once. */
  patience?: number;
  window?: number;
}

/**
 * Ends a run whose loss has left the building (fastai's and Keras's TerminateOnNaN, plus a "far above where it
 * started" rule): a NaN/∞ loss at once, or a loss more than `factor`× its start in `patience` of the last `window`
 * steps. A one-cycle warm-up may lift the loss for a step or two; half the recent steps that far up is not a bump
 * (a diverging net swings: 20, 9, 2.3, 15, 172 … before it dies at chance or overflows). The
 * learner then stops with the outcome `diverged`; the trainer keeps the last epoch's checkpoint (it saves nothing
 * of the diverged weights).
 */
export function divergenceGuard(opts: DivergenceOptions = {}): Callback<LearnerView> & { diverged: Divergence | null } {
  const warmupSteps = opts.warmupSteps ?? 5;
  const factor = opts.factor ?? 4;
  const margin = opts.margin ?? 2;
  const patience = opts.patience ?? 5;
  const window = opts.window ?? 10;
  const first: number[] = [];
  let startLoss = NaN;
  const recent: boolean[] = [];
  const guard = {
    diverged: null as Divergence | null,
    onBatchEnd(learner: LearnerView, m: StepMetrics) {
      if (guard.diverged) return;
      const finite = Number.isFinite(m.loss);
      if (finite && first.length < warmupSteps) {
        first.push(m.loss);
        startLoss = first.reduce((a, b) => a + b, 0) / first.length;
      }
      const limit = Math.max(startLoss * factor, startLoss + margin);
      recent.push(finite && m.loss > limit);
      if (recent.length > window) recent.shift();
      if (finite && recent.filter(Boolean).length < patience) return;
      guard.diverged = {
        step: m.step,
        epoch: m.epoch + 1,
        lr: m.lr,
        loss: finite ? m.loss : null,
        startLoss,
        advice: divergenceAdvice(m.lr),
      };
      learner.requestStop('diverge');
    },
  };
  return guard;
}

export function divergenceAdvice(lr: number): string {
  const lower = Number((lr / 10).toPrecision(2));
  return `the learning rate is too high for this model and data: try a max learning rate of ${lower} or lower (or the LR finder's suggestion), or leave it on auto`;
}

/** One line for a person: "diverged at step 12 (LR 13): loss NaN, started at 1.10; try …". */
export function describeDivergence(d: Divergence): string {
  const loss = d.loss === null ? 'not a number' : d.loss.toPrecision(3);
  return `diverged at step ${d.step} (epoch ${d.epoch}, learning rate ${Number(d.lr.toPrecision(3))}): loss ${loss}, from ${d.startLoss.toPrecision(3)} at the start; ${d.advice}`;
}
