import { fork, type ChildProcess } from 'node:child_process';
import { forwardStderr } from './third-party-noise.ts';

/**
 * child_process.fork of a TypeScript entry through tsx, as the CLI, the server and tests run trainers and jobs
 * (the app uses Electron's utilityProcess instead). The heap limit the parent was given carries over; stderr
 * is piped, not inherited: native libraries (Dawn) write warnings straight to fd 2, and only here can they be
 * dropped. A failed spawn is reported through 'exit'; the 'error' listener keeps it from throwing in the host.
 */
export function forkTs(entry: string, args: string[] = []): ChildProcess {
  const child = fork(entry, args, {
    execArgv: ['--import', 'tsx', ...process.execArgv.filter((a) => a.startsWith('--max-old-space-size'))],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  if (child.stderr) forwardStderr(child.stderr);
  child.on('error', () => undefined);
  return child;
}
