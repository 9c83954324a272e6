/**
 * Times one SGD training step (forward + backward + update) of ResNet-9 and ResNet-9-s (recipe.md), built straight
 * from tf ops, and prints images/s, the ratio to PyTorch on this machine, and a per-kernel time profile.
 *
 *   npx tsx src-main/engine/backend/bench-train-step.ts [--backend wasm|cpu] [--threads N] [--batch 128]
 *       [--steps 3] [--net resnet-9|resnet-9-s|both] [--no-profile]
 *
 * Timings are wall-clock on a shared machine: run it when nothing else is busy.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend, type BackendName } from './load-backend.ts';
import { batchNormTrain } from '../ops/batch-norm.ts';

// PyTorch CPU (Debian python3-torch, 2 threads) on this machine, from the issue.
const PYTORCH_IMAGES_PER_S: Record<string, number> = { 'resnet-9': 54, 'resnet-9-s': 680 };
const WIDTHS: Record<string, [number, number, number, number]> = {
  'resnet-9': [64, 128, 256, 512],
  'resnet-9-s': [16, 32, 64, 128],
};
const CLASSES = 10;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

interface ConvBn {
  w: tf.Variable;
  gamma: tf.Variable;
  beta: tf.Variable;
}

function convBnParams(cin: number, cout: number): ConvBn {
  return {
    w: tf.variable(tf.mul(tf.randomNormal([3, 3, cin, cout]), Math.sqrt(2 / (9 * cin)))),
    gamma: tf.variable(tf.ones([cout])),
    beta: tf.variable(tf.zeros([cout])),
  };
}

function buildResnet9(widths: [number, number, number, number]) {
  const [w0, w1, w2, w3] = widths;
  const p = {
    prep: convBnParams(3, w0),
    l1: convBnParams(w0, w1),
    r1a: convBnParams(w1, w1),
    r1b: convBnParams(w1, w1),
    l2: convBnParams(w1, w2),
    l3: convBnParams(w2, w3),
    r3a: convBnParams(w3, w3),
    r3b: convBnParams(w3, w3),
    fc: tf.variable(tf.randomUniform([w3, CLASSES], -1 / Math.sqrt(w3), 1 / Math.sqrt(w3))),
  };
  const convBn = (x: tf.Tensor4D, q: ConvBn) =>
    tf.relu(batchNormTrain(tf.conv2d(x, q.w as tf.Tensor4D, 1, 'same'), q.gamma as tf.Tensor1D, q.beta as tf.Tensor1D, 1e-5).y);
  const forward = (x: tf.Tensor4D): tf.Tensor2D => {
    let h = convBn(x, p.prep);
    h = tf.maxPool(convBn(h, p.l1), 2, 2, 'valid');
    h = tf.add(h, convBn(convBn(h, p.r1a), p.r1b));
    h = tf.maxPool(convBn(h, p.l2), 2, 2, 'valid');
    h = tf.maxPool(convBn(h, p.l3), 2, 2, 'valid');
    h = tf.add(h, convBn(convBn(h, p.r3a), p.r3b));
    const pooled = tf.max(h, [1, 2]) as tf.Tensor2D;
    return tf.mul(tf.matMul(pooled, p.fc as tf.Tensor2D), 0.125);
  };
  const variables: tf.Variable[] = [];
  for (const v of Object.values(p)) {
    if (v instanceof tf.Variable) variables.push(v);
    else variables.push(v.w, v.gamma, v.beta);
  }
  return { forward, variables };
}

function trainStep(
  model: ReturnType<typeof buildResnet9>,
  velocity: Map<string, tf.Variable>,
  x: tf.Tensor4D,
  targets: tf.Tensor2D,
): void {
  const lr = 0.01;
  const mu = 0.9;
  const wd = 5e-4;
  tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const logp = tf.logSoftmax(model.forward(x));
      return tf.neg(tf.mean(tf.sum(tf.mul(targets, logp), 1))) as tf.Scalar;
    });
    for (const v of model.variables) {
      const g = tf.add(grads[v.name], tf.mul(v, wd));
      const vel = velocity.get(v.name)!;
      vel.assign(tf.add(tf.mul(vel, mu), g));
      v.assign(tf.sub(v, tf.mul(tf.add(g, tf.mul(vel, mu)), lr))); // Nesterov, PyTorch semantics
    }
    value.dataSync(); // wait for the step, as a trainer reading the loss would
  });
}

async function benchNet(net: string, batch: number, steps: number, profile: boolean) {
  const model = buildResnet9(WIDTHS[net]);
  const velocity = new Map(model.variables.map((v) => [v.name, tf.variable(tf.zerosLike(v))]));
  const x = tf.randomNormal([batch, 32, 32, 3]) as tf.Tensor4D;
  const eps = 0.2;
  const labels = tf.randomUniform([batch], 0, CLASSES, 'int32');
  const targets = tf.add(tf.mul(tf.oneHot(labels, CLASSES), 1 - eps), eps / CLASSES) as tf.Tensor2D;

  trainStep(model, velocity, x, targets); // warm-up: operator creation, heap growth
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) trainStep(model, velocity, x, targets);
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1e6;
  const imagesPerS = (batch * steps) / seconds;
  const ref = PYTORCH_IMAGES_PER_S[net];
  console.log(
    `${net}: batch ${batch}, ${steps} steps, ${(seconds / steps).toFixed(2)} s/step, ${imagesPerS.toFixed(1)} img/s ` +
      `(${(imagesPerS / ref).toFixed(3)}× PyTorch's ${ref} img/s); process used ${(cpuSeconds / seconds).toFixed(2)} cores, ` +
      `${(cpuSeconds / steps).toFixed(2)} CPU s/step`,
  );
  // On a shared machine wall time mostly measures the neighbours; CPU time per image is what this process cost.
  console.log(`  ${((batch * steps) / cpuSeconds).toFixed(1)} img per CPU-second (= img/s on one otherwise idle core)`);

  if (profile) {
    const info = await tf.profile(() => trainStep(model, velocity, x, targets));
    const byKernel = new Map<string, { ms: number; calls: number }>();
    let total = 0;
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += ms;
      e.calls += 1;
      byKernel.set(k.name, e);
      total += ms;
    }
    console.log(`  kernel profile of one step (${total.toFixed(0)} ms in kernels):`);
    for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 14)) {
      console.log(`    ${name.padEnd(22)} ${e.ms.toFixed(0).padStart(7)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${e.calls} calls`);
    }
  }
  tf.dispose([...model.variables, ...velocity.values(), x, labels, targets]);
}

async function main() {
  const backend = arg('backend', 'wasm') as BackendName;
  const threads = Number(arg('threads', '0')) || undefined;
  const batch = Number(arg('batch', backend === 'cpu' ? '8' : '128'));
  const steps = Number(arg('steps', backend === 'cpu' ? '1' : '3'));
  const nets = arg('net', 'both') === 'both' ? ['resnet-9', 'resnet-9-s'] : [arg('net', 'both')];
  const profile = !process.argv.includes('--no-profile');
  const info = await loadBackend(backend, { wasmThreads: threads });
  console.log(`backend ${info.name}: ${info.device}${info.fallbackReason ? ` (fell back: ${info.fallbackReason})` : ''}`);
  for (const net of nets) {
    if (!WIDTHS[net]) throw new Error(`--net must be resnet-9, resnet-9-s or both, got "${net}"`);
    await benchNet(net, batch, steps, profile);
  }
}

await main();
