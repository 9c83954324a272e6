import { Worker } from 'node:worker_threads';

/**
 * A child (trainer, job) must not outlive the host that started it. The IPC 'disconnect' event
 * asks it to wind down, but a main thread stuck in a long synchronous kernel never sees that; this
 * thread does: once the parent is gone (this process was re-parented), it waits `graceMs` for an
 * orderly exit (a trainer's pause checkpoint), then kills the process.
 */
export function dieWithParent(graceMs: number): void {
  const worker = new Worker(
    `const { workerData: w } = require('node:worker_threads');
     const timer = setInterval(() => {
       if (process.ppid === w.ppid) return;
       clearInterval(timer);
       setTimeout(() => process.kill(w.pid, 'SIGKILL'), w.graceMs);
     }, 250);`,
    { eval: true, workerData: { ppid: process.ppid, pid: process.pid, graceMs } },
  );
  worker.unref();
}
