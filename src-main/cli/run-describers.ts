/** What `kiln runs show`, `compare` and `eval` print: a run, a comparison, an evaluation as terminal text. */
import { formatDate, formatDuration, formatNumber, formatPercent, formatTable, formatValue } from './format.ts';
import type { RunStore } from '../runs/run-store.ts';
import type { RunEvaluation } from '../training/evaluate-run.ts';
import type { RunMetrics, RunRecord } from '../../src-shared/run-types.ts';
import type { RunComparison } from '../../src-shared/run-comparison.ts';

export function describeRun(r: RunRecord, m: RunMetrics, lock: Awaited<ReturnType<RunStore['lockHolder']>>, dir: string): string {
  // The frozen config is what the run trains with; the request only says which of its values were auto.
  const c = r.resolved.config;
  const o = c.opt;
  const asked = r.request.opt;
  const value = (frozen: number, request: number | null) =>
    request === null ? `auto → ${formatNumber(frozen, 6)}` : formatNumber(frozen, 6);
  const lines: [string, string][] = [
    ['Run', r.id],
    ['Name', r.name],
    ['Status', r.status + (r.error ? ` (${r.error.name}: ${r.error.message})` : '')],
    ['Folder', dir],
    [
      'Dataset',
      `${r.dataset.id} (${r.dataset.name}; ${r.dataset.classes.length} classes; ${r.dataset.train} train / ${r.dataset.val} val; manifest ${r.dataset.manifestHash.slice(0, 12)})`,
    ],
    ['Arch', `${r.resolved.presetId ?? c.net.arch.name ?? 'custom spec'}${r.resolved.presetId ? '' : ` ${JSON.stringify(c.net.arch)}`}`],
    ...(r.origin
      ? ([
          [
            'Started from',
            `run ${r.origin.runId} (${r.origin.dataset.name}, ${r.origin.checkpoint} checkpoint of epoch ${r.origin.epoch}, val ${formatPercent(r.origin.valAcc)}); ` +
              `head ${r.origin.head === 'kept' ? 'kept (same classes)' : 're-initialised (other classes)'}` +
              (o.freezeEpochs > 0 ? `; body frozen for ${o.freezeEpochs} epoch(s)` : ''),
          ],
        ] as [string, string][])
      : []),
    [
      'Recipe',
      `epochs ${value(o.epochs, asked.epochs)}, batch ${value(o.batchSize, asked.batchSize)}, ` +
        `lr ${value(o.lrMax, asked.lrMax)} ${o.schedule}, wd ${value(o.weightDecay, asked.weightDecay)}, ` +
        `label smoothing ${value(o.labelSmoothing, asked.labelSmoothing)}, seed ${c.seed} (${r.resolved.recipeSource})`,
    ],
    ['Backend', `${c.backend}${r.backend ? ` → ${r.backend.name} (${r.backend.device})` : ''}`],
    ['Progress', `epoch ${r.progress.epoch}/${o.epochs}, step ${r.progress.step}/${r.progress.totalSteps || '?'}`],
    ...(r.resolved.autoRules.length ? [['Auto', r.resolved.autoRules.join('; ')] as [string, string]] : []),
    ...(r.hint ? [['Hint', r.hint] as [string, string]] : []),
    ['Best', r.best ? `val ${formatPercent(r.best.valAcc)}, tta ${formatPercent(r.best.ttaAcc)} at epoch ${r.best.epoch}` : '-'],
    [
      'Final',
      r.final
        ? `val ${formatPercent(r.final.valAcc)}, tta ${formatPercent(r.final.ttaAcc)}, val loss ${formatNumber(r.final.valLoss)}`
        : '-',
    ],
    [
      'Training',
      `${formatDuration(r.wallSeconds)} (created ${formatDate(r.createdAt)}, started ${formatDate(r.startedAt)}, ended ${formatDate(r.endedAt)})`,
    ],
    ['Trainer', lock ? `pid ${lock.pid} on ${lock.hostname}${lock.alive ? '' : ' (gone)'} since ${formatDate(lock.startedAt)}` : '-'],
    [
      'Host',
      `${r.host.hostname} ${r.host.platform}/${r.host.arch}, ${r.host.cpus} CPUs, ${r.host.memoryGiB} GiB; ` +
        `kiln ${r.versions.kiln}, tfjs ${r.versions.tfjs}, node ${r.versions.node}`,
    ],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  const out = lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (m.epochs.length > 0) {
    out.push('');
    out.push(
      formatTable(
        ['EPOCH', 'TRAIN LOSS', 'TRAIN ACC', 'VAL LOSS', 'VAL ACC', 'TTA ACC', 'LR', 'IMG/S', 'TIME'],
        m.epochs.map((e) => [
          String(e.epoch),
          formatNumber(e.trainLoss),
          formatPercent(e.trainAcc),
          formatNumber(e.valLoss),
          formatPercent(e.valAcc),
          formatPercent(e.ttaAcc),
          formatNumber(e.lr),
          formatNumber(Math.round(e.imagesPerSec)),
          formatDuration(e.seconds),
        ]),
        [true, true, true, true, true, true, true, true, true],
      ),
    );
  }
  if (m.tornTail) out.push('', 'note: metrics.jsonl ends in a partial line (the trainer was killed mid-write); it is ignored');
  return out.join('\n');
}

export function describeComparison(c: RunComparison): string {
  // Run ids are long; tables use A, B, C… with the legend in the first table.
  const label = (i: number) => (i < 26 ? String.fromCharCode(65 + i) : `R${i + 1}`);
  const ids = c.runs.map((r) => r.id);
  const out: string[] = [];
  out.push(
    formatTable(
      ['', 'ID', 'NAME', 'STARTED FROM', 'STATUS', 'EPOCHS', 'BEST VAL', 'FINAL VAL', 'FINAL TTA', 'WALL'],
      c.runs.map((r, i) => [
        label(i),
        r.id,
        r.name === r.id ? '-' : r.name,
        r.origin ? describeOrigin(r.origin) : 'scratch',
        r.status,
        String(r.epochs),
        formatPercent(r.best?.valAcc),
        formatPercent(r.final?.valAcc),
        formatPercent(r.final?.ttaAcc),
        formatDuration(r.wallSeconds),
      ]),
      [false, false, false, false, false, true, true, true, true, true],
    ),
  );
  out.push('');
  if (c.configDiff.length === 0) out.push('Config: identical');
  else {
    out.push('Config differences:');
    out.push(
      formatTable(
        ['SETTING', ...ids.map((_, i) => label(i))],
        c.configDiff.map((d) => [d.path, ...ids.map((id) => formatValue(d.values[id]))]),
      ),
    );
  }
  if (c.byEpoch.length > 0) {
    const hasTta = c.byEpoch.some((e) => Object.values(e.values).some((v) => v?.ttaAcc !== undefined));
    out.push('');
    out.push(`Validation accuracy by epoch${hasTta ? ' (val / tta)' : ''}:`);
    out.push(
      formatTable(
        ['EPOCH', ...ids.map((_, i) => label(i))],
        c.byEpoch.map((e) => [
          String(e.epoch),
          ...ids.map((id) => {
            const v = e.values[id];
            if (!v) return '-';
            return hasTta ? `${formatPercent(v.valAcc)} / ${formatPercent(v.ttaAcc)}` : formatPercent(v.valAcc);
          }),
        ]),
        [true, ...ids.map(() => true)],
      ),
    );
  }
  out.push('');
  out.push(`Loss by step: ${c.byStep.length} aligned points (kiln runs compare … --json for the series)`);
  return out.join('\n');
}

/** A fine-tune's source in a few words: the run (by id, or by name when it has one), its epoch, and the head's fate. */
export function describeOrigin(o: NonNullable<RunRecord['origin']>): string {
  return `${o.runName === o.runId ? o.runId : o.runName} @${o.epoch}, head ${o.head === 'kept' ? 'kept' : 'new'}`;
}

export function describeEvaluation(e: RunEvaluation): string {
  const out: string[] = [];
  out.push(
    `Run ${e.runId}, ${e.checkpoint} checkpoint (epoch ${e.epoch}, step ${e.step}), ${e.count} validation images on ${e.backend}: ` +
      `accuracy ${formatPercent(e.accuracy)}${e.tta ? `, with TTA ${formatPercent(e.ttaAccuracy)}` : ''}`,
  );
  out.push('');
  const short = (name: string) => (name.length > 8 ? name.slice(0, 7) + '…' : name);
  out.push('Confusion matrix (rows: true class, columns: predicted):');
  out.push(
    formatTable(
      ['TRUE \\ PRED', ...e.classes.map(short), 'ACC', ...(e.tta ? ['TTA ACC'] : [])],
      e.confusion.map((row, c) => [
        e.classes[c]!,
        ...row.map(String),
        formatPercent(e.perClass[c]!.accuracy),
        ...(e.tta ? [formatPercent(e.perClass[c]!.ttaAccuracy)] : []),
      ]),
      [false, ...e.classes.map(() => true), true, true],
    ),
  );
  const mistakes = e.mistakes.filter((m) => !m.tta);
  if (mistakes.length > 0) {
    out.push('');
    const files = mistakes.some((m) => m.source !== undefined);
    out.push(`Most confident mistakes (without TTA)${files && e.sourceFolder ? `; files in ${e.sourceFolder}` : ''}:`);
    out.push(
      formatTable(
        ['VAL IMAGE', 'TRUE', 'PREDICTED', 'CONFIDENCE', ...(files ? ['FILE'] : [])],
        mistakes.map((m) => [
          String(m.index),
          e.classes[m.trueClass]!,
          e.classes[m.predicted]!,
          formatPercent(m.confidence),
          ...(files ? [m.source ?? '-'] : []),
        ]),
        [true, false, false, true, false],
      ),
    );
  }
  out.push('');
  out.push(`Saved; kiln runs eval ${e.runId} --json prints all of it, TTA mistakes included.`);
  return out.join('\n');
}
