#!/usr/bin/env node
// The published entry runs the TypeScript sources through tsx, so `npx kiln`
// works straight after `npm install` with no build step.
import os from 'node:os';
import { spawn } from 'node:child_process';

const cores = os.availableParallelism?.() ?? os.cpus().length;
// Image decoding (sharp) runs on libuv's thread pool, whose size is fixed when the process starts
// (4 threads unless UV_THREADPOOL_SIZE says otherwise). An import on a bigger machine re-runs itself
// with a pool as large as the machine.
const [command, sub] = process.argv.slice(2);
if (command === 'dataset' && sub === 'import' && !process.env.UV_THREADPOOL_SIZE && cores > 4) {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, UV_THREADPOOL_SIZE: String(cores) },
  });
  // Ctrl-C reaches the child through the terminal's process group; this process only waits for it.
  process.on('SIGINT', () => {});
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src-main/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}
