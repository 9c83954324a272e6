import { UsageError } from '../common/errors.ts';
import { didYouMean } from './args.ts';

type Command = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

// Each command lives in its own file and is loaded on demand, so `kiln --help` stays instant.
const COMMANDS: Record<string, Command> = {
  train: { summary: 'train a model on a dataset', load: () => import('./commands/train.ts') },
  'lr-find': { summary: 'run a learning-rate range test', load: () => import('./commands/lr-find.ts') },
  arch: { summary: 'list and inspect architectures', load: () => import('./commands/arch.ts') },
  dataset: { summary: 'download, import, list and manage datasets', load: () => import('./commands/dataset.ts') },
  runs: { summary: 'list, compare, resume and manage runs', load: () => import('./commands/runs.ts') },
  export: { summary: 'export a trained model (TensorFlow.js layers or ONNX, + kiln.json)', load: () => import('./commands/export.ts') },
  predict: { summary: 'classify image files with a trained model (or imagenet:NAME)', load: () => import('./commands/predict.ts') },
  backbone: { summary: 'list, download and add pretrained ImageNet backbones', load: () => import('./commands/backbone.ts') },
  bench: { summary: 'measure training and inference throughput', load: () => import('./commands/bench.ts') },
  serve: { summary: 'serve the app and its API over HTTP/WebSocket', load: () => import('./commands/serve.ts') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: kiln <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Common options (before or after the command):',
    "  --home DIR   where datasets and runs live (default: $KILN_HOME or the app's user-data folder)",
    '  --json       machine-readable output',
    '',
    'Run `kiln <command> --help` for the options of one command.',
  ].join('\n');
}

/** Options every command takes, so they may come before the command name too. */
const GLOBAL_FLAGS: Record<string, boolean> = { '--home': true, '--json': false };

/**
 * `kiln --home DIR dataset list` as `kiln dataset list --home DIR`: global options before the command
 * move after it (where each command parses them).
 */
export function moveGlobalFlags(argv: string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    const flag = a.split('=')[0]!;
    if (!(flag in GLOBAL_FLAGS)) break;
    leading.push(a);
    if (GLOBAL_FLAGS[flag] && !a.includes('=') && i + 1 < argv.length) leading.push(argv[++i]!);
    i++;
  }
  if (leading.length === 0 || i >= argv.length) return argv;
  return [argv[i]!, ...argv.slice(i + 1), ...leading];
}

/** Where a not-found error sends the person. */
const LIST_COMMANDS: Record<string, string> = {
  RunNotFoundError: 'kiln runs list',
  DatasetNotFoundError: 'kiln dataset list',
  UnknownBackboneError: 'kiln backbone list',
};

export async function main(argvIn: string[]): Promise<number> {
  const argv = moveGlobalFlags(argvIn);
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    const { KILN_VERSION } = await import('../common/version.ts');
    console.log(KILN_VERSION);
    return 0;
  }
  const command = COMMANDS[name];
  try {
    if (!command) {
      throw new UsageError(`unknown command "${name}"${didYouMean(name, Object.keys(COMMANDS))} (kiln --help lists the commands)`);
    }
    const mod = await command.load();
    return await mod.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      const list = LIST_COMMANDS[err.name];
      const help = /^unknown option /.test(err.message) && command ? ` (kiln ${name} --help lists the options)` : '';
      console.error(`kiln: ${err.message}${list ? `; \`${list}\` shows what there is` : ''}${help}`);
      return 2;
    }
    console.error(`kiln: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.KILN_DEBUG && err instanceof Error) console.error(err.stack);
    return 1;
  }
}
