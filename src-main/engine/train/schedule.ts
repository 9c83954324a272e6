/** The learning-rate and momentum schedule, as a pure function of the step. */
export interface ScheduleConfig {
  schedule: 'one-cycle' | 'constant';
  shape: 'linear' | 'cosine';
  lrMax: number;
  warmupFraction: number;
  startDiv: number;
  finalDiv: number;
  momentumMax: number;
  momentumMin: number;
}

export interface ScheduleValue {
  lr: number;
  momentum: number;
}

const ease = (shape: ScheduleConfig['shape'], a: number) => (shape === 'linear' ? a : (1 - Math.cos(Math.PI * a)) / 2);

/**
 * One-cycle (Smith; fast.ai): the learning rate rises from lrMax/startDiv to lrMax over the warm-up
 * fraction of the steps and falls to lrMax/finalDiv by the end; momentum moves the other way.
 */
export function scheduleAt(cfg: ScheduleConfig, step: number, totalSteps: number): ScheduleValue {
  if (cfg.schedule === 'constant') return { lr: cfg.lrMax, momentum: cfg.momentumMax };
  const p = totalSteps > 0 ? Math.min(Math.max(step / totalSteps, 0), 1) : 0;
  const warm = cfg.warmupFraction;
  const lrStart = cfg.lrMax / cfg.startDiv;
  const lrEnd = cfg.lrMax / cfg.finalDiv;
  const dm = cfg.momentumMax - cfg.momentumMin;
  if (p < warm) {
    const s = ease(cfg.shape, p / warm);
    return { lr: lrStart + (cfg.lrMax - lrStart) * s, momentum: cfg.momentumMax - dm * s };
  }
  const s = ease(cfg.shape, warm >= 1 ? 1 : (p - warm) / (1 - warm));
  return { lr: cfg.lrMax - (cfg.lrMax - lrEnd) * s, momentum: cfg.momentumMin + dm * s };
}
