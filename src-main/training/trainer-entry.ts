/**
 * The trainer process: trains one run and exits. Started through the trainer channel (trainer-channel.ts) by
 * child_process.fork (CLI, server, tests) or Electron's utilityProcess (the app), so a crash or an out-of-memory
 * here never takes the parent down. In the app a GPU run's steps run in a hidden renderer on Chromium's WebGPU
 * (gpu/): this process then owns the files and drives that page through the port the host hands over.
 */
import { serializeError } from '../common/errors.ts';
import { connectParent } from '../common/parent-end.ts';
import { runTrainingSession } from './train-session.ts';
import { TRAINER_CHANNEL } from './trainer-channel.ts';
import { portLink } from './gpu/port-link.ts';

const parent = connectParent(TRAINER_CHANNEL, { orphanGraceMs: 60_000 });
// The one way to stop a run: this signal, whose reason ('pause' or 'stop') goes into the learner's fit().
const stop = new AbortController();
const request = (reason: 'pause' | 'stop') => stop.abort(reason);

// A GPU run's page that died: the host tells why (Chromium's reason), for the run's error.
let pageGone: (reason: string) => void = () => undefined;
const pageGoneReason = new Promise<string>((resolve) => (pageGone = resolve));
parent.onMessage((m) => (m.type === 'page-gone' ? pageGone(m.reason) : request(m.type)));
// Ctrl-C on a terminal reaches the whole process group: pause, as the parent will ask anyway.
process.on('SIGINT', () => request('pause'));
// SIGTERM before the run is settled (someone's `kill`): pause. After it, the parent's acknowledgement (parent.leave).
process.on('SIGTERM', () => request('pause'));
// A parent that went away can't be asked; keep the work: checkpoint and pause (or be killed within the grace).
parent.onParentGone(() => request('pause'));

const [home, runId, mode] = process.argv.slice(2);
if (!home || !runId) {
  console.error('usage: trainer-entry <home> <run-id> [gpu-page]');
  process.exit(2);
}

let exitCode = 0;
let lastSend: Promise<void> = Promise.resolve();
try {
  await runTrainingSession({
    home,
    runId,
    emit: (m) => void (lastSend = parent.send(m)),
    signal: stop.signal,
    // The app's GPU trainer transport starts this process with 'gpu-page' and hands over the page's port.
    ...(mode === 'gpu-page' ? { gpu: portLink(await parent.port(), pageGoneReason) } : {}),
  });
} catch (err) {
  // The session has already recorded the failure and told the parent.
  if (process.env.KILN_DEBUG) console.error(err);
  else if (!parent.attached) console.error(serializeError(err).message);
  exitCode = 1;
}
// The IPC channel would keep the process alive; leave once the last message is on its way.
await lastSend;
parent.leave(exitCode);
