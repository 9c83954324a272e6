import { TrainerHandle } from '../training/trainer-client.ts';
import type { TrainerMessage } from '../../src-shared/trainer-protocol.ts';
import { bar, formatDuration, formatPercent } from './format.ts';
import { RunStore } from '../runs/run-store.ts';
import type { ExitDetail } from '../common/process-exit.ts';
import { settleDeadTrainer } from '../training/trainer-death.ts';

/**
 * Run a trainer for a run and show its progress: a live bar on a terminal, one JSON object a line
 * with --json. Ctrl-C pauses (checkpoint, exit 130). Shared by `kiln train` and `kiln runs resume`.
 */
export async function followTrainer(home: string, runId: string, opts: { json: boolean }): Promise<number> {
  const out = process.stdout;
  const live = out.isTTY && !opts.json;
  const handle = new TrainerHandle(home, runId);
  let exit: { code: number | null; signal: string | null; detail?: ExitDetail } | undefined;
  handle.on('exit', (e) => (exit = e));
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) return;
    interrupted = true;
    if (live) out.write('\n');
    if (!opts.json) console.error('kiln: pausing: writing a checkpoint…');
    handle.pause();
  };
  process.on('SIGINT', onSigint);
  const clearLine = () => live && out.write('\r\x1b[2K');
  let backend: string | undefined;
  handle.on('message', (m: TrainerMessage) => {
    if (m.type === 'started') backend = m.backend.name;
    if (opts.json) {
      if (m.type === 'epoch') console.log(JSON.stringify({ type: 'epoch', ...m.metrics }));
      else if (m.type === 'started') console.log(JSON.stringify(m));
      return;
    }
    if (m.type === 'started') {
      const resumed = m.resumedAtStep > 0 ? `, resuming at step ${m.resumedAtStep}` : '';
      console.log(`run ${m.runId} on ${m.backend.name} (${m.backend.device})${resumed}`);
      // How the auto settings came out, so a long or short run is never a surprise.
      void new RunStore(home).get(runId).then(
        (r) => {
          const res = r.resolved;
          if (m.resumedAtStep > 0) return;
          clearLine();
          const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
          console.log(
            `${n(res.config.opt.epochs, 'epoch')} × ${n(res.stepsPerEpoch, 'step')} of ${n(res.config.opt.batchSize, 'image')} (${r.dataset.train.toLocaleString('en-US')} training images)`,
          );
          for (const rule of res.autoRules) if (!rule.endsWith(": the recipe's")) console.log(`  auto ${rule}`);
        },
        () => undefined,
      );
    } else if (m.type === 'progress' && live) {
      const p = m.progress;
      clearLine();
      const f = p.features;
      // A fast transfer run's first phase: the frozen backbone's pass over the images not cached yet.
      if (f)
        out.write(
          `features ${bar(f.total > 0 ? f.done / f.total : 0)} ${f.done}/${f.total} images ${f.imagesPerSec.toFixed(1)} img/s ETA ${formatDuration(f.etaSeconds)}`,
        );
      else
        out.write(
          // Fill, step count and ETA are all for the whole run (the ETA includes the evaluations still to come).
          `epoch ${p.epoch}/${p.epochs} ${bar(p.totalSteps > 0 ? p.step / p.totalSteps : 0)} step ${p.step}/${p.totalSteps} ` +
            `loss ${p.loss.toFixed(3)} ${p.imagesPerSec.toFixed(0)} img/s ETA ${formatDuration(p.etaSeconds)}`,
        );
    } else if (m.type === 'epoch') {
      const e = m.metrics;
      clearLine();
      console.log(
        `epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(3)} acc ${formatPercent(e.trainAcc, 1)} | val loss ${e.valLoss.toFixed(3)} ` +
          `acc ${formatPercent(e.valAcc, 1)}${e.ttaAcc !== undefined ? ` tta ${formatPercent(e.ttaAcc, 1)}` : ''} | ${e.imagesPerSec.toFixed(0)} img/s, ${formatDuration(e.seconds)}`,
      );
    }
  });
  const result = await handle.done;
  process.off('SIGINT', onSigint);
  clearLine();
  const m = result.message;
  if (m?.type === 'done') {
    const hint =
      m.outcome === 'finished' || m.outcome === 'diverged' ? (await new RunStore(home).get(runId).catch(() => null))?.hint : undefined;
    if (opts.json) {
      console.log(
        JSON.stringify({
          type: 'done',
          runId,
          outcome: m.outcome,
          valAcc: m.valAcc,
          ttaAcc: m.ttaAcc,
          seconds: m.seconds,
          backend,
          ...(hint ? { hint } : {}),
        }),
      );
    } else if (m.outcome === 'finished') {
      console.log(
        `done: run ${runId}, val acc ${formatPercent(m.valAcc, 1)}, tta ${formatPercent(m.ttaAcc, 1)}, ${formatDuration(m.seconds)}`,
      );
      if (hint) console.log(`hint: ${hint}`);
    } else if (m.outcome === 'paused') {
      console.log(`paused run ${runId}. Resume with: kiln runs resume ${runId}`);
    } else if (m.outcome === 'diverged') {
      console.error(`kiln: run ${runId} ${hint ?? 'diverged'}`);
    } else {
      console.log(`stopped run ${runId}`);
    }
    if (m.outcome === 'diverged') return 1;
    return m.outcome === 'paused' || interrupted ? 130 : 0;
  }
  if (m?.type === 'error') {
    if (opts.json) console.log(JSON.stringify({ type: 'error', runId, error: m.error }));
    console.error(`kiln: run ${runId} failed: ${m.error.message}`);
    return 1;
  }
  // No final message: the trainer died (or its last message was lost). Settled and recorded as the app does.
  const end = await settleDeadTrainer(new RunStore(home), runId, exit, { started: backend !== undefined, killedByHost: false });
  if (end.lost === 'message') {
    console.error(`kiln: the trainer of run ${runId} ended without its last message; it recorded the run ${end.status}`);
    return end.status === 'finished' || end.status === 'stopped' ? 0 : 1;
  }
  if (opts.json) console.log(JSON.stringify({ type: 'error', runId, error: end.error }));
  console.error(`kiln: ${end.error.message}`);
  if (end.error.name === 'TrainerCrashedError') console.error(`kiln: resume it with: kiln runs resume ${runId}`);
  if (end.unrecorded) console.error(`kiln: could not record this in run ${runId}: ${(end.unrecorded as Error).message}`);
  return 1;
}
