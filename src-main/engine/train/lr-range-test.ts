import type { LrFindPoint } from '../../../src-shared/train-types.ts';
import type { Callback } from './learner.ts';

export interface LrRangeTestOptions {
  startLr: number;
  endLr: number;
  steps: number;
  /** Stop once the smoothed loss exceeds this multiple of its minimum. */
  divergeFactor: number;
  onPoint?: (point: LrFindPoint) => void;
}

/**
 * The learning-rate range test (Smith, 2015) as a callback, as fastai's LRFinder: each step's learning rate rises
 * exponentially from startLr to endLr (momentum as the run's schedule has it), the loss is recorded with fastai's
 * bias-corrected smoothing, validation is skipped, and the fit stops after `steps` or once the loss blows up.
 */
export class LrRangeTest implements Callback {
  readonly points: LrFindPoint[] = [];
  stoppedEarly = false;
  private avg = 0;
  private best = Infinity;

  constructor(private readonly opts: LrRangeTestOptions) {}

  onBatchStart(_l: unknown, batch: { step: number; lr: number }): void {
    const ratio = this.opts.endLr / this.opts.startLr;
    batch.lr = this.opts.startLr * ratio ** (batch.step / Math.max(this.opts.steps - 1, 1));
  }

  beforeValidate(): boolean {
    return false;
  }

  onBatchEnd(l: { requestStop(reason: 'stop'): void }, m: { step: number; lr: number; loss: number }): void {
    this.avg = 0.98 * this.avg + 0.02 * m.loss;
    const smoothed = this.avg / (1 - 0.98 ** m.step);
    const point = { step: m.step, lr: m.lr, loss: m.loss, smoothedLoss: smoothed };
    this.points.push(point);
    this.opts.onPoint?.(point);
    this.best = Math.min(this.best, smoothed);
    if (!Number.isFinite(smoothed) || (m.step > 10 && smoothed > this.opts.divergeFactor * this.best)) {
      this.stoppedEarly = true;
      l.requestStop('stop');
    } else if (m.step >= this.opts.steps) l.requestStop('stop');
  }
}
