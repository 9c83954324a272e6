import * as tf from '@tensorflow/tfjs-core';
import { serializeError } from '../../common/errors.ts';
import { buildGraph } from '../../engine/arch/graph.ts';
import { Model } from '../../engine/model/model.ts';
import { Learner, type Callback } from '../../engine/train/learner.ts';
import { Sgd } from '../../engine/train/sgd.ts';
import { readTrainingState, writeNamedValues, writeTrainingState } from '../../engine/train/training-state.ts';
import { predictSplit } from '../../engine/train/predict-split.ts';
import type { LoadedDataset } from '../../common/dataset-types.ts';
import { describeAdapter } from '../../engine/backend/webgpu-adapter.ts';
import { webgpuSelfCheck } from '../../engine/backend/webgpu-self-check.ts';
import type { OwnerMessage, PageLink } from './gpu-protocol.ts';

interface Navigator {
  gpu?: { requestAdapter(o?: object): Promise<{ info?: Record<string, unknown>; isFallbackAdapter?: boolean } | null> };
  userAgent: string;
}

interface LossInfo {
  reason?: string;
  message?: string;
}

/**
 * tfjs's WebGPU backend on the page's own navigator.gpu (Chromium's: Dawn behind the GPU process). A device lost
 * later (the GPU process crashed, a driver reset, the GPU unplugged) is said to the owner at once, as an error
 * that fails the run with its reason, rather than left to hang the next read.
 */
async function startBackend(link: PageLink): Promise<void> {
  if (tf.getBackend() === 'webgpu') return;
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not start its WebGPU backend on this adapter');
  const device = (tf.backend() as unknown as { device?: { lost?: Promise<LossInfo> } }).device;
  void device?.lost?.then((info) => {
    deviceLost = true;
    link.send({
      type: 'error',
      error: {
        name: 'GpuDeviceLostError',
        message: `the GPU device was lost (${info.reason ?? 'unknown'}${info.message ? `: ${info.message}` : ''}); resume the run to continue from its last checkpoint`,
      },
    });
  });
}

/** Set once the device is lost (and the owner told): a step that fails with it says nothing more. */
let deviceLost = false;

/** A fit's failure, unless it is the device loss already reported (whose promise may settle a moment after the failed read). */
async function reportFailure(link: PageLink, err: unknown): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 250));
  if (!deviceLost) link.send({ type: 'error', error: serializeError(err) });
}

/** What the page keeps from a fit until it closes: the model on the device and the run's dataset, for 'predict'. */
interface Fitted {
  model: Model;
  dataset: LoadedDataset;
}

/**
 * The GPU trainer page's side of the link (gpu-protocol.ts): says which adapter it has, runs the self-check when
 * asked, then trains what the owner sends, reporting each read of steps and each epoch (with the whole state),
 * ends with 'done' and the final state, and then scores a checkpoint's weights on the validation split when asked
 * (the run's evaluation). Nothing here touches a file: the owner keeps the run.
 */
export async function servePage(link: PageLink, nav: Navigator = globalThis.navigator as unknown as Navigator): Promise<void> {
  let stop: AbortController | undefined;
  let fitted: Fitted | undefined;
  const release = () => {
    fitted?.model.dispose();
    fitted = undefined;
  };
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
          await startBackend(link);
          link.send({ type: 'checked', result: await webgpuSelfCheck() });
        } catch (err) {
          link.send({
            type: 'checked',
            result: { ok: false, reason: `WebGPU did not start: ${serializeError(err).message.split('\n')[0]}` },
          });
        }
      })();
    } else if (m.type === 'init') {
      release();
      stop = new AbortController();
      void train(link, m, stop.signal)
        .then((f) => (fitted = f))
        .catch((err: unknown) => reportFailure(link, err));
    } else if (m.type === 'predict') {
      void predict(fitted, m).then(
        (table) => link.send({ type: 'predicted', ...table }),
        (err) => link.send({ type: 'error', error: serializeError(err) }),
      );
    } else if (m.type === 'close') {
      release();
      link.close();
    }
  });
}

async function predict(fitted: Fitted | undefined, m: Extract<OwnerMessage, { type: 'predict' }>) {
  if (!fitted) throw new Error("the GPU trainer page was asked to predict before it trained (no 'init' ended)");
  writeNamedValues(fitted.model.namedVariables(), m.weights, 'predict');
  return predictSplit(fitted.model, fitted.dataset, m.count);
}

/** Trains as `init` says; keeps the model (for 'predict') when the fit ends, disposes it if the fit throws. */
async function train(link: PageLink, init: Extract<OwnerMessage, { type: 'init' }>, signal: AbortSignal): Promise<Fitted> {
  await startBackend(link);
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
    return { model, dataset };
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    sgd.dispose();
  }
}
