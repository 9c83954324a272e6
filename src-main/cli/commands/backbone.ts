import readline from 'node:readline';
import { UsageError } from '../../common/errors.ts';
import { resolveHome } from '../../common/home.ts';
import { BackboneStore, knownBackbone } from '../../backbones/backbone-store.ts';
import { BACKBONE_NAMES, LICENCE_NOTE } from '../../engine/backbones/registry.ts';
import { didYouMean, parseFlags } from '../args.ts';
import { cancellableJob } from '../progress-line.ts';
import { formatBytes, formatTable } from '../format.ts';

const USAGE = `Usage:
  kiln backbone list [--json]
  kiln backbone get <name> [--yes] [--url URL --sha256 HEX] [--json]
  kiln backbone add <name> <file.safetensors> [--unverified] [--json]

Pretrained ImageNet backbones (${BACKBONE_NAMES.join(', ')}): timm's weights, pinned by revision and SHA-256,
fetched once into the Kiln home and shared by every run that starts from them.

  list   the known backbones, whether their weights are stored, their size and licence
  get    download the weights (resumable; the SHA-256 is checked). The first download shows the licence
         note and asks to go on; --yes accepts it without asking. --url fetches from a mirror (the
         pinned SHA-256 still applies unless --sha256 gives another)
  add    install a local copy of the weights (an air-gapped machine): its SHA-256 must be the pin, or
         with --unverified its tensor names and shapes must fit the architecture (runs then record
         that the weights are unverified)

Options:
  --home DIR   Kiln home (default: $KILN_HOME or the app's user-data folder)
  --json       machine-readable output`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') return (console.log(USAGE), sub ? 0 : 2);
  switch (sub) {
    case 'list':
      return list(rest);
    case 'get':
      return get(rest);
    case 'add':
      return add(rest);
    default:
      throw new UsageError(`unknown backbone command "${sub}"; expected one of: list, get, add${didYouMean(sub, ['list', 'get', 'add'])}`);
  }
}

const common = { home: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

function expect(got: string[], names: string[]): string[] {
  if (got.length !== names.length)
    throw new UsageError(
      `expected ${names.map((n) => `<${n}>`).join(' ')}, got ${got.length === 0 ? 'none' : got.map((g) => `"${g}"`).join(' ')}`,
    );
  return got;
}

/** The backbone's registry entry, with a "did you mean" for a typo. */
function named(name: string) {
  try {
    return knownBackbone(name);
  } catch (err) {
    if (err instanceof UsageError) err.message += didYouMean(name, BACKBONE_NAMES);
    throw err;
  }
}

async function list(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, common, false);
  if (values.help) return (console.log(USAGE), 0);
  const store = new BackboneStore(resolveHome(values.home));
  const all = await store.list();
  if (values.json) {
    console.log(JSON.stringify(all, null, 2));
    return 0;
  }
  const state = (c: (typeof all)[number]['cached']) => (!c ? 'not stored' : c.verified ? 'stored' : 'stored (unverified)');
  console.log(
    formatTable(
      ['NAME', 'WEIGHTS', 'SIZE', 'INPUT', 'SOURCE', 'LICENCE'],
      all.map((b) => [
        b.name,
        state(b.cached),
        formatBytes(b.cached?.bytes ?? b.approxBytes),
        `${b.inputSize} px`,
        `${b.repo}@${b.revision.slice(0, 7)}`,
        b.licence,
      ]),
    ),
  );
  console.log(`\nWeights live in ${store.root}. ${LICENCE_NOTE}`);
  return 0;
}

async function get(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    ...common,
    yes: { type: 'boolean', short: 'y' },
    url: { type: 'string' },
    sha256: { type: 'string' },
  });
  if (values.help) return (console.log(USAGE), 0);
  const [name] = expect(positionals, ['name']);
  const backbone = named(name);
  const store = new BackboneStore(resolveHome(values.home));
  let accept = Boolean(values.yes);
  const stored = await store.record(name);
  if (
    !accept &&
    !(stored?.verified && stored.sha256 === (values.sha256 ?? backbone.weights.sha256).toLowerCase()) &&
    !(await store.licenceAccepted())
  ) {
    console.error(
      `${backbone.title}: ${backbone.weights.repo} at ${backbone.weights.revision.slice(0, 7)}, about ${formatBytes(backbone.weights.approxBytes)}.\n\n${LICENCE_NOTE}\n`,
    );
    accept = await confirm('Download the weights and accept this note? [y/N] ');
    if (!accept) {
      console.error('kiln: nothing downloaded (the licence note was not accepted; --yes accepts it)');
      return 1;
    }
  }
  return cancellableJob(async (bar, signal) => {
    const s = await store
      .download(name, {
        acceptLicence: accept,
        onProgress: (e) => bar.download(e),
        signal,
        ...(values.url ? { url: values.url } : {}),
        ...(values.sha256 ? { sha256: values.sha256 } : {}),
      })
      .catch((err: Error) => {
        // Offline or air-gapped: say how to install a copy fetched elsewhere.
        if (/^cannot (reach|download from) /.test(err.message))
          err.message += `; on a machine without access, copy ${backbone.weights.url} over and run \`kiln backbone add ${name} FILE\``;
        throw err;
      });
    bar.clear();
    if (values.json) console.log(JSON.stringify(s));
    else if (s.alreadyStored)
      console.log(
        `${name}: already stored (${formatBytes(s.bytes)}, sha256 ${s.record.sha256.slice(0, 12)}…) in ${store.weightsFile(name)}`,
      );
    else {
      const resumed = s.resumedFrom > 0 || s.retries > 0 ? `, resumed ${s.retries + (s.resumedFrom > 0 ? 1 : 0)} time(s)` : '';
      console.log(
        `Downloaded ${name}: ${formatBytes(s.bytes)} in ${s.seconds.toFixed(1)} s${resumed}; sha256 ok. Stored in ${store.weightsFile(name)}.`,
      );
    }
    return 0;
  });
}

async function add(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { ...common, unverified: { type: 'boolean' } });
  if (values.help) return (console.log(USAGE), 0);
  const [name, file] = expect(positionals, ['name', 'file.safetensors']);
  named(name);
  const store = new BackboneStore(resolveHome(values.home));
  const record = await store.add(name, file, { unverified: Boolean(values.unverified) });
  if (values.json) console.log(JSON.stringify(record));
  else {
    console.log(
      record.verified
        ? `Added ${name} from ${file}: sha256 matches the pin. Stored in ${store.weightsFile(name)}.`
        : `Added ${name} from ${file} UNVERIFIED: sha256 ${record.sha256} is not the pin; its tensor names and shapes fit ${name}. Runs that use it will say so.`,
    );
  }
  return 0;
}

/** One line from stdin (a terminal or a pipe); yes only for y / yes. End of input is a no. */
function confirm(question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: Boolean(process.stdin.isTTY) });
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(/^\s*y(es)?\s*$/i.test(answer));
    });
    rl.on('close', () => {
      if (!answered) resolve(false);
    });
  });
}
