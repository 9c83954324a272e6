import type { ParseArgsConfig } from 'node:util';
import { backendFlag, didYouMean, parseFlags } from '../args.ts';
import { UsageError } from '../../common/errors.ts';
import { resolveHome } from '../../common/home.ts';
import { compareRuns } from '../../runs/compare-runs.ts';
import { evaluateRun } from '../../training/evaluate-run.ts';
import { parseCheckpointChoice } from '../../training/run-model.ts';
import { resumeRunCheck, stopRun as stopStoredRun } from '../../runs/run-lifecycle.ts';
import { numberFlag } from '../args.ts';
import { runArchLabel, validateRunId } from '../../runs/run-id.ts';
import { formatDate, formatDuration, formatPercent, formatTable } from '../format.ts';
import { describeComparison, describeEvaluation, describeRun } from '../run-describers.ts';
import { RunStore } from '../../runs/run-store.ts';
import { writeJsonAtomic } from '../../common/atomic-write.ts';
import type { RunRecord } from '../../../src-shared/run-types.ts';

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
  resume: {
    usage: 'resume <id>',
    summary: 'continue a paused or interrupted run from its last checkpoint (Ctrl-C pauses again)',
    run: resumeRun,
  },
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
    throw new UsageError(
      name
        ? `runs: unknown subcommand "${name}"; expected one of: ${known}${didYouMean(name, Object.keys(SUBCOMMANDS))}`
        : `runs: expected a subcommand: ${known}`,
    );
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
    runArchLabel(r),
    formatPercent(r.best?.valAcc),
    formatPercent(r.best?.ttaAcc),
    formatDuration(r.wallSeconds),
    formatDate(r.createdAt),
  ]);
  console.log(
    formatTable(['ID', 'NAME', 'STATUS', 'DATASET', 'ARCH', 'BEST VAL', 'BEST TTA', 'DURATION', 'CREATED'], rows, [
      false,
      false,
      false,
      false,
      false,
      true,
      true,
      true,
      false,
    ]),
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
  else
    console.log(
      `Unlocked run ${id} (lock of pid ${result.removed[0]!.pid} on ${result.removed[0]!.hostname} removed); it is ${record.status}`,
    );
  return 0;
}

async function evalRun({ store, args: positionals, json, flags }: RunsContext): Promise<number> {
  const [id] = expectIds(positionals, 'eval', 1).map(validateRunId) as [string];
  const checkpoint = parseCheckpointChoice(flags.checkpoint as string | undefined);
  const backendChoice = backendFlag(flags.backend as string | undefined);
  const record = await store.get(id);
  // The run's own backend by default: the numbers then match what it reported while training.
  const backend = (backendChoice ?? record.backend?.name ?? record.resolved.config.backend) as 'auto';
  const result = await evaluateRun(store.home, id, { checkpoint, backend });
  const out = flags.out as string | undefined;
  if (out) await writeJsonAtomic(out, result);
  if (json) printJson(result);
  else console.log(describeEvaluation(result) + (out ? `\nWrote ${out}` : ''));
  return 0;
}
