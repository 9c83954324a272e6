import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../common/errors.ts';
import { parseFlags, numberFlag } from '../args.ts';
import { resolveHome } from '../../common/home.ts';
import { isLoopbackHost } from '../../server/host-check.ts';
import { ensureRendererBuilt } from '../../server/build-renderer.ts';
import { startKilnServer } from '../../server/kiln-server.ts';

const HELP = `Usage: kiln serve [options]

Serves the Kiln app and its API (a WebSocket at /api) so a browser can use a headless machine.

Options:
  --host H          address to listen on                      [127.0.0.1]
  --port N          port, 0 = any free one                    [0]
  --token T         the access token (16+ URL-safe chars)     [a fresh random one]
  --open            open the app in the default browser
  --allow-remote    allow a non-loopback --host; clients may then import only under --data-root,
                    export only into <home>/exports and download only the built-in CIFAR-10
  --data-root DIR   with --allow-remote: a folder clients may import images from (repeatable)
  --home DIR        Kiln home                                 [$KILN_HOME or the app's data folder]

The first serve after an install or an update builds the app (vite, 10–30 s); later ones start at once.
Ctrl-C pauses running runs (checkpoint) and stops the server.`;

function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(cmd as string, args as string[], { detached: true, stdio: 'ignore' });
    child.on('error', () => console.error(`kiln: could not open a browser; open ${url} yourself`));
    child.unref();
  } catch {
    console.error(`kiln: could not open a browser; open ${url} yourself`);
  }
}

/** Exactly what a token holder can do to this machine in remote mode. */
export function remoteWarning(host: string, home: string, dataRoots: string[]): string {
  return [
    `kiln: WARNING: remote mode, listening on ${host}${isLoopbackHost(host) ? '' : ', not just this machine'}. Anyone who can reach it and has the token can:`,
    '  - start, pause, resume, stop, rename and delete training runs, and read their metrics and images;',
    '  - delete, rename and browse datasets, and upload images to import as new ones;',
    dataRoots.length
      ? `  - import image folders from under ${dataRoots.join(', ')};`
      : '  - import no server folders (no --data-root given);',
    `  - export trained models into ${path.join(home, 'exports')};`,
    '  - make this machine download CIFAR-10 from its built-in address (no other address);',
    "  - use this machine's CPU/GPU, memory and disk for training.",
    'kiln: the traffic is not encrypted: use it on a trusted network or behind an SSH tunnel.',
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseFlags(
    argv,
    {
      host: { type: 'string' },
      port: { type: 'string' },
      token: { type: 'string' },
      open: { type: 'boolean' },
      'allow-remote': { type: 'boolean' },
      'data-root': { type: 'string', multiple: true },
      home: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  const host = v.host ?? '127.0.0.1';
  const dataRoots = ((v['data-root'] as string[] | undefined) ?? []).map((d) => path.resolve(d));
  if (dataRoots.length && !v['allow-remote'])
    throw new UsageError('--data-root: only with --allow-remote (a local Kiln imports any folder you choose)');
  for (const d of dataRoots)
    if (!fs.statSync(d, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--data-root ${d}: not a folder`);
  const port = numberFlag('port', v.port, { int: true, min: 0, max: 65535 }) ?? 0;
  const server = await startKilnServer({
    home: resolveHome(v.home),
    host,
    port,
    ...(v.token !== undefined ? { token: v.token } : {}),
    allowRemote: !!v['allow-remote'],
    dataRoots,
  });
  // A fresh clone has no built app: build it (after the options are checked and the port is bound,
  // before the URL is printed) rather than serve a page that says "not built".
  try {
    const built = await ensureRendererBuilt((why) =>
      console.error(
        why === 'missing'
          ? 'kiln: building the app (first serve after install; 10–30 s)…'
          : "kiln: the app's sources changed; rebuilding it (10–30 s)…",
      ),
    );
    if (built !== null) console.error(`kiln: app built in ${built.toFixed(1)} s`);
  } catch (err) {
    console.error(`kiln: ${(err as Error).message}\nkiln: serving the API only; the page will say the app is not built`);
  }
  if (v['allow-remote']) console.error(remoteWarning(host, resolveHome(v.home), dataRoots));
  // One bad request must not end every session: log what escaped, with its stack, and carry on.
  process.on('uncaughtException', (err) => {
    server.services.log.error('uncaught exception', err);
    console.error(`kiln: internal error (logged): ${err.message}`);
  });
  process.on('unhandledRejection', (err) => server.services.log.error('unhandled rejection', err));
  // Signal handlers go in before the URL is printed: whoever reads the URL may send Ctrl-C at once.
  const done = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        console.error('kiln: still pausing runs; press Ctrl-C again in a moment to force');
        process.removeAllListeners(signal);
        return;
      }
      stopping = true;
      const live = server.services.runs.liveIds().length;
      console.error(live ? `kiln: pausing ${live} running run(s): writing checkpoints…` : 'kiln: stopping');
      server.close().then(
        ({ paused }) => {
          if (paused.length) console.error(`kiln: paused ${paused.join(', ')}; resume them in the app or with \`kiln runs resume <id>\``);
          resolve(0);
        },
        (err: Error) => {
          console.error(`kiln: error while stopping: ${err.message}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  if (server.services.recovered.length)
    console.error(`kiln: marked interrupted (resume them in the app): ${server.services.recovered.join(', ')}`);
  console.log(`Kiln is serving at ${server.url}`);
  console.log(`Home: ${server.services.runs.home}. Press Ctrl-C to stop.`);
  if (v.open) openBrowser(server.url);

  return done;
}
