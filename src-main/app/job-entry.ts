/**
 * A learning-rate range test in its own process (forked here, Electron's utilityProcess in the app),
 * so its CPU work never stalls the host's event loop. Gets {home, config}, answers {result} or {error}.
 */
import { serializeError } from '../common/errors.ts';
import { parseRunConfig } from '../engine/config/run-config.ts';
import { loadBackend } from '../engine/backend/load-backend.ts';
import { loadDataset } from '../engine/data/load-dataset.ts';
import { DEFAULT_LR_FIND, lrFind } from '../engine/train/lr-find.ts';

interface ParentPort {
  once(event: 'message', listener: (e: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

function reply(message: unknown): Promise<void> {
  if (parentPort) {
    parentPort.postMessage(message);
    return Promise.resolve();
  }
  return new Promise((resolve) => (process.send ? process.send(message, () => resolve()) : resolve()));
}

async function handle(data: unknown): Promise<void> {
  let exitCode = 0;
  try {
    const { home, config } = data as { home: string; config: unknown };
    const parsed = parseRunConfig(config);
    await loadBackend(parsed.backend);
    const dataset = await loadDataset(home, parsed.data.dataset);
    const result = await lrFind(dataset, parsed, DEFAULT_LR_FIND);
    await reply({ type: 'result', result });
  } catch (err) {
    exitCode = 1;
    await reply({ type: 'error', error: serializeError(err) });
  }
  process.exit(exitCode);
}

if (parentPort) parentPort.once('message', (e) => void handle(e.data));
else process.once('message', (m) => void handle(m));
// A parent that went away will never read the answer.
process.on('disconnect', () => process.exit(1));
