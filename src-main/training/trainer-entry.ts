/**
 * The trainer process: trains one run and exits. Started by `trainer-client.ts` with
 * child_process.fork (CLI, server, tests) or Electron's utilityProcess (the app), so a crash or an
 * out-of-memory here never takes the parent down.
 */
import { serializeError } from '../common/errors.ts';
import { PARENT_CLOSE_GRACE_MS } from '../common/parent-port.ts';
import { dieWithParent } from '../common/parent-watchdog.ts';
import type { ParentMessage, TrainerMessage } from '../../src-shared/trainer-protocol.ts';
import { runTrainingSession } from './train-session.ts';
import type { Learner } from '../engine/train/learner.ts';

interface ParentPort {
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

// Electron's utilityProcess talks through process.parentPort; fork() through process.send.
const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
let lastSend: Promise<void> = Promise.resolve();
const send = (m: TrainerMessage) => {
  if (parentPort) return parentPort.postMessage(m);
  if (!process.send) return;
  lastSend = new Promise((resolve) => process.send!(m, () => resolve()));
};
const onMessage = (listener: (m: ParentMessage) => void) =>
  parentPort ? parentPort.on('message', (e) => listener(e.data as ParentMessage)) : process.on('message', (m) => listener(m as ParentMessage));

const [home, runId] = process.argv.slice(2);
let learner: Learner | undefined;
let pending: 'pause' | 'stop' | undefined;
const request = (reason: 'pause' | 'stop') => (learner ? learner.requestStop(reason) : (pending ??= reason));

onMessage((m) => request(m.type));
// Our stderr is a pipe to the parent (which drops native libraries' noise from it): a parent gone away must
// not turn a late warning into a crash before the checkpoint is written.
process.stderr.on('error', () => undefined);
// Ctrl-C on a terminal reaches the whole process group: pause, as the parent will ask anyway.
process.on('SIGINT', () => request('pause'));
// Once the run is settled, SIGTERM is the parent's acknowledgement of the last message (utility-spawner.ts).
let settled = false;
process.on('SIGTERM', () => (settled ? process.exit() : request('pause')));
// A parent that went away can't be asked; keep the work: checkpoint and pause.
process.on('disconnect', () => request('pause'));
if (parentPort) {
  // A utility process gets no 'disconnect'; an orphan is re-parented, so a changed parent pid means the app is gone.
  const parentPid = process.ppid;
  setInterval(() => process.ppid !== parentPid && request('pause'), 1000).unref();
}
// …and if it cannot (a step that never ends), it must not live on as an orphan.
if (process.send || parentPort) dieWithParent(60_000);

if (!home || !runId) {
  console.error('usage: trainer-entry <home> <run-id>');
  process.exit(2);
}

try {
  await runTrainingSession({
    home,
    runId,
    emit: send,
    onLearner: (l) => {
      learner = l;
      if (pending) l.requestStop(pending);
    },
  });
  process.exitCode = 0;
} catch (err) {
  // The session has already recorded the failure and told the parent.
  if (process.env.KILN_DEBUG) console.error(err);
  else if (!process.send && !parentPort) console.error(serializeError(err).message);
  process.exitCode = 1;
}
// The IPC channel would keep the process alive; leave once the last message is on its way.
await lastSend;
settled = true;
if (parentPort) {
  // Electron's port has no delivery callback and closes on exit, which can drop the last message: the parent ends
  // this process once it has the 'done' or 'error' (utility-spawner.ts); leave on our own only if it does not.
  setTimeout(() => process.exit(), PARENT_CLOSE_GRACE_MS);
} else process.exit();
