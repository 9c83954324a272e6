import { UsageError } from '../common/errors.ts';

type Command = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

// Each command lives in its own file and is loaded on demand, so `kiln --help` stays instant.
const COMMANDS: Record<string, Command> = {
  train: { summary: 'train a model on a dataset', load: () => import('./commands/train.ts') },
  'lr-find': { summary: 'run a learning-rate range test', load: () => import('./commands/lr-find.ts') },
  arch: { summary: 'list and inspect architectures', load: () => import('./commands/arch.ts') },
  dataset: { summary: 'download, import, list and manage datasets', load: () => import('./commands/dataset.ts') },
  runs: { summary: 'list, compare, resume and manage runs', load: () => import('./commands/runs.ts') },
  export: { summary: 'export a trained model (tfjs layers format + kiln.json)', load: () => import('./commands/export.ts') },
  predict: { summary: 'classify image files with a trained model', load: () => import('./commands/predict.ts') },
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
    'Common options:',
    '  --home DIR   where datasets and runs live (default: $KILN_HOME or the app\'s user-data folder)',
    '  --json       machine-readable output',
    '',
    'Run `kiln <command> --help` for the options of one command.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
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
    if (!command) throw new UsageError(`unknown command "${name}"; expected one of: ${Object.keys(COMMANDS).join(', ')}`);
    const mod = await command.load();
    return await mod.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`kiln: ${err.message}`);
      return 2;
    }
    console.error(`kiln: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.KILN_DEBUG && err instanceof Error) console.error(err.stack);
    return 1;
  }
}
