import * as tf from '@tensorflow/tfjs-core';
import { serializeError } from '../../common/errors.ts';
import { buildGraph } from '../../engine/arch/graph.ts';
import { Model } from '../../engine/model/model.ts';
import { Learner, type Callback } from '../../engine/train/learner.ts';
import { Sgd } from '../../engine/train/sgd.ts';
import { readTrainingState, writeTrainingState } from '../../engine/train/training-state.ts';
import { describeAdapter } from '../../engine/backend/webgpu-adapter.ts';
import { webgpuSelfCheck } from '../../engine/backend/webgpu-self-check.ts';
import type { OwnerMessage, PageLink } from './gpu-protocol.ts';

interface Navigator {
  gpu?: { requestAdapter(o?: object): Promise<{ info?: Record<string, unknown>; isFallbackAdapter?: boolean } | null> };
  userAgent: string;
}

/** tfjs's WebGPU backend on the page's own navigator.gpu (Chromium's: Dawn behind the GPU process). */
async function startBackend(): Promise<void> {
  if (tf.getBackend() === 'webgpu') return;
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not start its WebGPU backend on this adapter');
}

/**
 * The GPU trainer page's side of the link (gpu-protocol.ts): says which adapter it has, runs the self-check when
 * asked, then trains what the owner sends, reporting each read of steps and each epoch (with the whole state),
 * and ends with 'done' and the final state. Nothing here touches a file: the owner keeps the run.
 */
export async function servePage(link: PageLink, nav: Navigator = globalThis.navigator as unknown as Navigator): Promise<void> {
  let stop: AbortController | undefined;
  const adapter = await nav.gpu?.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    link.send({
      type: 'error',
      error: {
        name: 'BackendUnavailableError',
        message: 'Chromium offers no WebGPU adapter here (no usable GPU driver, or WebGPU is blocked for this GPU)',
      },
    });
    return;
  }
  const described = describeAdapter(adapter);
  const info = adapter.info ?? {};
  const adapterKey = JSON.stringify([
    info.vendor,
    info.architecture,
    info.device,
    info.description,
    (info as { driver?: unknown }).driver ?? null,
    nav.userAgent,
  ]);
  link.send({ type: 'hello', adapter: described, adapterKey, userAgent: nav.userAgent });
  link.onMessage((m: OwnerMessage) => {
    if (m.type === 'stop') stop?.abort(m.reason);
    else if (m.type === 'check') {
      void (async () => {
        try {
          await startBackend();
          link.send({ type: 'checked', result: await webgpuSelfCheck() });
        } catch (err) {
          link.send({
            type: 'checked',
            result: { ok: false, reason: `WebGPU did not start: ${serializeError(err).message.split('\n')[0]}` },
          });
        }
      })();
    } else if (m.type === 'init') {
      stop = new AbortController();
      void train(link, m, stop.signal).catch((err) => link.send({ type: 'error', error: serializeError(err) }));
    } else if (m.type === 'close') link.close();
  });
}

async function train(link: PageLink, init: Extract<OwnerMessage, { type: 'init' }>, signal: AbortSignal): Promise<void> {
  await startBackend();
  const { resolved, dataset } = init;
  const { config } = resolved;
  const graph = buildGraph(config.net.arch, { imageSize: dataset.imageSize, numClasses: dataset.classes.length });
  const model = new Model(graph, config.seed);
  const sgd = new Sgd(model.params, { ...config.opt, ...(init.lrScale ? { lrScale: new Map(Object.entries(init.lrScale)) } : {}) });
  try {
    writeTrainingState(model, sgd, init.state);
    const report: Callback = {
      onBatchEnd: (l, s) => link.send({ type: 'steps', steps: [s], position: { ...l.position } }),
      onEpochEnd: async (l, metrics) => {
        // The page's live tensors ride along: they must stay flat from epoch to epoch.
        link.send({
          type: 'epoch',
          metrics,
          position: { ...l.position },
          state: await readTrainingState(model, sgd),
          tensors: tf.memory().numTensors,
        });
      },
    };
    const learner = new Learner(model, sgd, dataset, resolved, [report], init.position);
    learner.pipelined = true;
    if (init.microBatch !== undefined) learner.microBatch = init.microBatch;
    const outcome = await learner.fit(signal);
    link.send({ type: 'done', outcome, position: { ...learner.position }, state: await readTrainingState(model, sgd) });
  } finally {
    model.dispose();
    sgd.dispose();
  }
}
