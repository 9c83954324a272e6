import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { finalStderrLines, forwardStderr, type ForwardedStderr } from './third-party-noise.ts';
import type { ExitDetail } from './process-exit.ts';

const forwarded = new WeakMap<ChildProcess, ForwardedStderr>();

/**
 * tsx's loader, resolved from this package rather than from the working directory: `--import tsx` resolves
 * against the child's cwd, so a `kiln` started from `/`, a photo folder, systemd or a global install could
 * not start a single trainer. Resolved once, lazily: a built (JavaScript) entry never needs it.
 */
let tsxLoader: string | undefined;
function tsxLoaderUrl(): string {
  tsxLoader ??= pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return tsxLoader;
}

/** The execArgv that runs `entry`: the tsx loader for a TypeScript entry, nothing for built JavaScript. */
export function loaderArgs(entry: string): string[] {
  return /\.[cm]?ts$/.test(entry) ? ['--import', tsxLoaderUrl()] : [];
}

/**
 * child_process.fork of a TypeScript entry through tsx (or of built JavaScript as it is), as the CLI, the
 * server and tests run trainers and jobs (the app uses Electron's utilityProcess instead). The heap limit the
 * parent was given carries over; stderr is piped, not inherited: native libraries (Dawn) write warnings
 * straight to fd 2, and only here can they be dropped. A failed spawn is reported through 'exit'; the 'error'
 * listener keeps it from throwing in the host.
 */
export function forkTs(entry: string, args: string[] = []): ChildProcess {
  const child = fork(entry, args, {
    execArgv: [...loaderArgs(entry), ...process.execArgv.filter((a) => a.startsWith('--max-old-space-size'))],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  if (child.stderr) forwarded.set(child, forwardStderr(child.stderr));
  child.on('error', () => undefined);
  return child;
}

/** What a forked child that has exited left behind: its last stderr lines (see process-exit.ts). */
export async function forkedExitDetail(child: ChildProcess): Promise<ExitDetail> {
  return { stderrTail: await finalStderrLines(forwarded.get(child)) };
}
