import type { ParseArgsConfig } from 'node:util';
import { backendFlag, didYouMean, parseFlags } from '../args.ts';
import { UsageError } from '../../common/errors.ts';
import { resolveHome } from '../../common/home.ts';
import { compareRuns } from '../../runs/compare-runs.ts';
import { evaluateRun, type RunEvaluation } from '../../training/evaluate-run.ts';
import { parseCheckpointChoice } from '../../training/run-model.ts';
import { resumeRunCheck, stopRun as stopStoredRun } from '../../runs/run-lifecycle.ts';
import { numberFlag } from '../args.ts';
import { archLabel, validateRunId } from '../../runs/run-id.ts';
import { formatDate, formatDuration, formatNumber, formatPercent, formatTable, formatValue } from '../../runs/run-format.ts';
import { RunStore } from '../../runs/run-store.ts';
import { writeJsonAtomic } from '../../common/atomic-write.ts';
import type { RunMetrics, RunRecord } from '../../../src-shared/run-types.ts';
import type { RunComparison } from '../../../src-shared/run-comparison.ts';

const COMMON = {
  json: { type: 'boolean' },
  home: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;

export interface RunsContext {
  store: RunStore;
  /** Positional arguments after the subcommand name. */
  args: string[];
  json: boolean;
  /** All parsed flags, the subcommand's own included. */
  flags: Record<string, string | boolean | (string | boolean)[] | undefined>;
}

export interface RunsSubcommand {
  usage: string;
  summary: string;
  /** Flags beyond --json, --home and --help. */
  options?: Options;
  run(ctx: RunsContext): Promise<number>;
}

/** `kiln runs <sub>`: each subcommand is one entry, with its own flags; training-side ones (resume, stop, eval) are added here. */
const SUBCOMMANDS: Record<string, RunsSubcommand> = {
  list: { usage: 'list', summary: 'the runs, newest first', run: listRuns },
  show: { usage: 'show <id>', summary: 'one run: record, config and per-epoch metrics', run: showRun },
  rm: { usage: 'rm <id>', summary: 'delete a run and its files (not while it trains)', run: removeRun },
  rename: { usage: 'rename <id> <name>', summary: 'change the display name of a run', run: renameRun },
  compare: { usage: 'compare <id> <id>…', summary: 'metrics aligned by epoch and step, and config differences', run: compare },
  resume: { usage: 'resume <id>', summary: 'continue a paused or interrupted run from its last checkpoint (Ctrl-C pauses again)', run: resumeRun },
  stop: {
    usage: 'stop <id>',
    summary: 'end a paused or interrupted run for good; a run training here is paused first, then stopped',
    options: { timeout: { type: 'string' } },
    run: stopRun,
  },
  unlock: {
    usage: 'unlock <id>',
    summary: 'remove a run lock left by a trainer this machine cannot see (another host, a restarted container)',
    run: unlockRun,
  },
  eval: {
    usage: 'eval <id> [--checkpoint best|latest] [--backend B] [--out FILE]',
    summary: 'confusion matrix, per-class accuracy and most confident mistakes, with and without TTA',
    options: { checkpoint: { type: 'string' }, backend: { type: 'string' }, out: { type: 'string' } },
    run: evalRun,
  },
};

export function usage(): string {
  const width = Math.max(...Object.values(SUBCOMMANDS).map((s) => s.usage.length));
  return [
    'Usage: kiln runs <subcommand> [--json] [--home DIR]',
    '',
    ...Object.values(SUBCOMMANDS).map((s) => `  kiln runs ${s.usage.padEnd(width)}  ${s.summary}`),
  ].join('\n');
}

/** Where the subcommand name is: the first argument that is neither a common flag nor --home's value. */
function findSubcommand(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--home') i++;
    else if (a === '--') return i + 1 < argv.length ? i + 1 : -1;
    else if (!a.startsWith('-')) return i;
  }
  return -1;
}

export async function run(argv: string[]): Promise<number> {
  const at = findSubcommand(argv);
  const name = at >= 0 ? argv[at]! : undefined;
  const rest = at >= 0 ? [...argv.slice(0, at), ...argv.slice(at + 1)] : argv;
  if (name === 'help' || (!name && (argv.includes('--help') || argv.includes('-h')))) {
    console.log(usage());
    return 0;
  }
  const sub = name ? SUBCOMMANDS[name] : undefined;
  if (!sub) {
    parseFlags(rest, COMMON); // a bad flag is reported as such
    const known = Object.keys(SUBCOMMANDS).join(', ');
    throw new UsageError(name ? `runs: unknown subcommand "${name}"; expected one of: ${known}${didYouMean(name, Object.keys(SUBCOMMANDS))}` : `runs: expected a subcommand: ${known}`);
  }
  const { values, positionals } = parseFlags(rest, { ...COMMON, ...sub.options });
  if (values.help) {
    console.log(`Usage: kiln runs ${sub.usage} [--json] [--home DIR]\n\n${sub.summary}`);
    return 0;
  }
  const store = new RunStore(resolveHome(values.home as string | undefined));
  // A trainer that died leaves its run 'running'; say so before showing anything.
  await store.recoverInterrupted().catch((err: Error) => console.error(`kiln: warning: crash recovery skipped: ${err.message}`));
  return sub.run({ store, args: positionals, json: values.json === true, flags: values });
}

function expectIds(positionals: string[], sub: string, exactly?: number): string[] {
  const usageLine = `kiln runs ${SUBCOMMANDS[sub]!.usage}`;
  if (exactly !== undefined && positionals.length !== exactly) {
    throw new UsageError(`runs ${sub}: expected ${usageLine.slice('kiln runs '.length)}, got ${positionals.length} argument(s)`);
  }
  return positionals;
}

function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

async function listRuns({ store, args: positionals, json }: RunsContext): Promise<number> {
  expectIds(positionals, 'list', 0);
  const { runs, broken } = await store.list();
  if (json) {
    printJson({ runs, broken });
    return 0;
  }
  for (const b of broken) console.error(`kiln: warning: skipped ${b.dir}: ${b.error}`);
  if (runs.length === 0) {
    console.log(`No runs in ${store.root}`);
    return 0;
  }
  const rows = runs.map((r) => [
    r.id,
    r.name === r.id ? '-' : r.name,
    r.status,
    r.dataset.id,
    archLabel(r.config.net.arch),
    formatPercent(r.best?.valAcc),
    formatPercent(r.best?.ttaAcc),
    formatDuration(r.wallSeconds),
    formatDate(r.createdAt),
  ]);
  console.log(
    formatTable(
      ['ID', 'NAME', 'STATUS', 'DATASET', 'ARCH', 'BEST VAL', 'BEST TTA', 'DURATION', 'CREATED'],
      rows,
      [false, false, false, false, false, true, true, true, false],
    ),
  );
  return 0;
}

async function showRun({ store, args: positionals, json }: RunsContext): Promise<number> {
  const [id] = expectIds(positionals, 'show', 1).map(validateRunId) as [string];
  const record = await store.get(id);
  const metrics = await store.readMetrics(id);
  const lock = await store.lockHolder(id);
  if (json) {
    printJson({ record, metrics, trainer: lock, dir: store.runDir(id) });
    return 0;
  }
  console.log(describeRun(record, metrics, lock, store.runDir(id)));
  return 0;
}

function describeRun(r: RunRecord, m: RunMetrics, lock: Awaited<ReturnType<RunStore['lockHolder']>>, dir: string): string {
  const o = r.config.opt;
  const auto = (set: number, autoWhen: number, resolved: number | undefined) =>
    set === autoWhen ? `auto${resolved === undefined ? '' : ` → ${formatNumber(resolved, 6)}`}` : formatNumber(set, 6);
  const lines: [string, string][] = [
    ['Run', r.id],
    ['Name', r.name],
    ['Status', r.status + (r.error ? ` (${r.error.name}: ${r.error.message})` : '')],
    ['Folder', dir],
    [
      'Dataset',
      `${r.dataset.id} (${r.dataset.name}; ${r.dataset.classes.length} classes; ${r.dataset.train} train / ${r.dataset.val} val; manifest ${r.dataset.manifestHash.slice(0, 12)})`,
    ],
    ['Arch', typeof r.config.net.arch === 'string' ? r.config.net.arch : JSON.stringify(r.config.net.arch)],
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
      `epochs ${auto(o.epochs, 0, r.resolved?.epochs)}, batch ${auto(o.batchSize, 0, r.resolved?.batchSize)}, ` +
        `lr ${auto(o.lrMax, 0, r.resolved?.lrMax)} ${o.schedule}, wd ${auto(o.weightDecay, -1, r.resolved?.weightDecay)}, ` +
        `label smoothing ${o.labelSmoothing ?? `recipe${r.resolved?.config ? ` → ${r.resolved.config.opt.labelSmoothing}` : ''}`}, seed ${r.seed}`,
    ],
    ['Backend', `${r.config.backend}${r.backend ? ` → ${r.backend.name} (${r.backend.device})` : ''}`],
    ['Progress', `epoch ${r.progress.epoch}${r.resolved ? `/${r.resolved.epochs}` : ''}, step ${r.progress.step}/${r.progress.totalSteps || '?'}`],
    ...(r.resolved?.autoRules?.length ? [['Auto', r.resolved.autoRules.join('; ')] as [string, string]] : []),
    ...(r.hint ? [['Hint', r.hint] as [string, string]] : []),
    ['Best', r.best ? `val ${formatPercent(r.best.valAcc)}, tta ${formatPercent(r.best.ttaAcc)} at epoch ${r.best.epoch}` : '-'],
    [
      'Final',
      r.final ? `val ${formatPercent(r.final.valAcc)}, tta ${formatPercent(r.final.ttaAcc)}, val loss ${formatNumber(r.final.valLoss)}` : '-',
    ],
    ['Training', `${formatDuration(r.wallSeconds)} (created ${formatDate(r.createdAt)}, started ${formatDate(r.startedAt)}, ended ${formatDate(r.endedAt)})`],
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

async function removeRun({ store, args: positionals, json }: RunsContext): Promise<number> {
  const [id] = expectIds(positionals, 'rm', 1).map(validateRunId) as [string];
  await store.remove(id);
  if (json) printJson({ removed: id });
  else console.log(`Removed run ${id}`);
  return 0;
}

async function renameRun({ store, args: positionals, json }: RunsContext): Promise<number> {
  const [rawId, name] = expectIds(positionals, 'rename', 2) as [string, string];
  const id = validateRunId(rawId);
  let record: RunRecord;
  try {
    record = await store.rename(id, name);
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
  if (json) printJson(record);
  else console.log(`Renamed run ${id} to "${record.name}"`);
  return 0;
}

async function compare({ store, args: positionals, json }: RunsContext): Promise<number> {
  const ids = positionals.map(validateRunId);
  if (ids.length < 2) throw new UsageError(`runs compare: expected at least two run ids, got ${ids.length}`);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new UsageError(`runs compare: run ${dup} is listed twice`);
  const inputs = [];
  for (const id of ids) inputs.push({ record: await store.get(id), metrics: await store.readMetrics(id) });
  const result = compareRuns(inputs);
  if (json) printJson(result);
  else console.log(describeComparison(result));
  return 0;
}

function describeComparison(c: RunComparison): string {
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

async function resumeRun({ store, args: positionals, json }: RunsContext): Promise<number> {
  const [id] = expectIds(positionals, 'resume', 1).map(validateRunId) as [string];
  await resumeRunCheck(store, id);
  const { followTrainer } = await import('../follow-trainer.ts');
  return followTrainer(store.home, id, { json });
}

async function stopRun({ store, args: positionals, json, flags }: RunsContext): Promise<number> {
  const [id] = expectIds(positionals, 'stop', 1).map(validateRunId) as [string];
  const timeout = numberFlag('timeout', flags.timeout as string | undefined, { min: 1 }) ?? 120;
  const result = await stopStoredRun(store, id, {
    timeoutMs: timeout * 1000,
    onSignal: (pid) => !json && console.error(`kiln: run ${id} is training in pid ${pid}: pausing it (checkpoint) before stopping…`),
  });
  if (json) printJson(result);
  else if (result.already) console.log(`Run ${id} was already ${result.record.status}`);
  else console.log(`Stopped run ${id} in epoch ${result.record.progress.epoch}, at step ${result.record.progress.step}`);
  return 0;
}

async function unlockRun({ store, args: positionals, json }: RunsContext): Promise<number> {
  const [id] = expectIds(positionals, 'unlock', 1).map(validateRunId) as [string];
  const result = await store.unlock(id);
  const record = await store.get(id);
  if (json) printJson({ ...result, status: record.status });
  else if (!result.removed.length) console.log(`Run ${id} was not locked (${record.status})`);
  else console.log(`Unlocked run ${id} (lock of pid ${result.removed[0]!.pid} on ${result.removed[0]!.hostname} removed); it is ${record.status}`);
  return 0;
}

async function evalRun({ store, args: positionals, json, flags }: RunsContext): Promise<number> {
  const [id] = expectIds(positionals, 'eval', 1).map(validateRunId) as [string];
  const checkpoint = parseCheckpointChoice(flags.checkpoint as string | undefined);
  const backendChoice = backendFlag(flags.backend as string | undefined);
  const record = await store.get(id);
  // The run's own backend by default: the numbers then match what it reported while training.
  const backend = (backendChoice ?? record.backend?.name ?? record.config.backend) as 'auto';
  const result = await evaluateRun(store.home, id, { checkpoint, backend });
  const out = flags.out as string | undefined;
  if (out) await writeJsonAtomic(out, result);
  if (json) printJson(result);
  else console.log(describeEvaluation(result) + (out ? `\nWrote ${out}` : ''));
  return 0;
}

function describeEvaluation(e: RunEvaluation): string {
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
        mistakes.map((m) => [String(m.index), e.classes[m.trueClass]!, e.classes[m.predicted]!, formatPercent(m.confidence), ...(files ? [m.source ?? '-'] : [])]),
        [true, false, false, true, false],
      ),
    );
  }
  out.push('');
  out.push(`Saved; kiln runs eval ${e.runId} --json prints all of it, TTA mistakes included.`);
  return out.join('\n');
}
