/** Where a run stands; all a resumed run needs besides weights and optimiser state. */
export interface Position {
  /** 0-based epoch in progress. */
  epoch: number;
  /** Steps already taken in that epoch. */
  stepInEpoch: number;
  /** Steps taken in all. */
  step: number;
  /** The unfinished epoch's running training metrics. */
  lossSum: number;
  correct: number;
  seen: number;
  trainSeconds: number;
}

export const START_POSITION: Position = { epoch: 0, stepInEpoch: 0, step: 0, lossSum: 0, correct: 0, seen: 0, trainSeconds: 0 };
