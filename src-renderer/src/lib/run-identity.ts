import type { RunRecord } from '../../../src-shared/run-types.ts';
import { formatDuration, formatPercent } from './format.ts';

/** What a run started from, in words: random weights, or a past run's weights (head kept or redrawn, body frozen for how long). */
export function startedFromText(r: RunRecord): string {
  const o = r.origin;
  if (!o) return 'random weights (from scratch)';
  const freeze = r.resolved.config.opt.freezeEpochs;
  const val = o.valAcc === null ? '' : `, val ${formatPercent(o.valAcc)}`;
  return (
    `run “${o.runName}” (${o.dataset.name}, its ${o.checkpoint} weights from epoch ${o.epoch}${val}); ` +
    `head ${o.head === 'kept' ? 'kept (same classes)' : 'drawn afresh (other classes)'}; ` +
    (freeze > 0 ? `body frozen for the first ${freeze} epoch${freeze === 1 ? '' : 's'}` : 'nothing frozen')
  );
}

/** The line a run shows once it has ended: how it went, or why it stopped and what to try. */
export function endNotice(r: RunRecord): { kind: 'ok' | 'bad'; text: string } | null {
  if (r.status === 'finished') {
    const best = r.best ? `best val ${formatPercent(r.best.valAcc)} at epoch ${r.best.epoch}` : 'no validation score';
    const ttaAcc = r.evaluation?.ttaAcc ?? r.final?.ttaAcc;
    const tta = ttaAcc === undefined || ttaAcc === null ? '' : `, TTA ${formatPercent(ttaAcc, 2)}`;
    const hint = r.hint ? ` ${r.hint.charAt(0).toUpperCase()}${r.hint.slice(1)}` : '';
    return { kind: 'ok', text: `Finished in ${formatDuration(r.wallSeconds)}: ${best}${tta}.${hint}` };
  }
  if (r.status === 'diverged')
    return { kind: 'bad', text: `Stopped: the run ${r.hint ?? 'diverged'}. The checkpoint of the last complete epoch is kept.` };
  return null;
}
