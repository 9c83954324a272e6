import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from './backend-unavailable.ts';
import type { BackendEntry, BackendInfo } from './backend-entry.ts';

async function loadCpu(): Promise<BackendInfo> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new BackendUnavailableError('backend "cpu" failed to initialise');
  // The cpu backend greets its first tensor with a banner recommending tfjs-node; Kiln reports the backend itself.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { name: 'cpu', tfjsBackend: 'cpu', device: 'CPU (plain JavaScript, 1 thread)', threads: 1 };
}

/** tfjs's reference backend in plain JavaScript: always there, the last resort of auto. */
export const CPU_BACKEND: BackendEntry = {
  probe: () => ({ available: true }),
  load: loadCpu,
  auto: [{ rank: 50, load: loadCpu }],
};
