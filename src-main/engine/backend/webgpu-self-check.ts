import * as tf from '@tensorflow/tfjs-core';

export type SelfCheckVerdict = { ok: true; seconds: number } | { ok: false; reason: string };

// WebGPU's flag values (GPUBufferUsage, GPUMapMode), which Node has no globals for.
const MAP_READ = 0x1;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;

interface Buffer {
  getMappedRange(): ArrayBuffer;
  unmap(): void;
  mapAsync(mode: number): Promise<void>;
  destroy(): void;
}
interface Device {
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): Buffer;
  createCommandEncoder(): { copyBufferToBuffer(a: Buffer, ao: number, b: Buffer, bo: number, n: number): void; finish(): unknown };
  queue: { submit(c: unknown[]): void };
}

const pattern = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k) * 0.5);

/** Largest |a−b| / (1 + |b|). */
function maxError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  return Number.isNaN(worst) ? Infinity : worst;
}

/** The raw device round trip: write through a mapped buffer, copy on the device, map it back and read. */
async function mappedRoundTrip(device: Device): Promise<void> {
  const values = pattern(1024, 1);
  const up = device.createBuffer({ size: values.byteLength, usage: COPY_SRC, mappedAtCreation: true });
  new Float32Array(up.getMappedRange()).set(values);
  up.unmap();
  const down = device.createBuffer({ size: values.byteLength, usage: COPY_DST | MAP_READ });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(up, 0, down, 0, values.byteLength);
  device.queue.submit([encoder.finish()]);
  await down.mapAsync(MAP_READ);
  const back = new Float32Array(down.getMappedRange().slice(0));
  down.unmap();
  up.destroy();
  down.destroy();
  if (maxError(back, values) !== 0) throw new Error('a buffer copied on the device came back changed');
}

/** One small conv → ReLU → sum, its value and its gradients for input and filter, all read back (async, as training does). */
async function convForwardBackward(): Promise<Float32Array[]> {
  const x = tf.tensor4d(pattern(2 * 6 * 6 * 3, 2), [2, 6, 6, 3]);
  const w = tf.tensor4d(pattern(3 * 3 * 3 * 4, 3), [3, 3, 3, 4]);
  const f = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.sum(tf.relu(tf.conv2d(a, b, 1, 'same')));
  const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor4D))([x, w]);
  const out = [value, ...grads];
  try {
    return (await Promise.all(out.map((t) => t.data()))) as Float32Array[];
  } finally {
    tf.dispose([x, w, ...out]);
  }
}

/**
 * Before a run's first step on WebGPU: a mapped-buffer round trip on the device tfjs uses (Dawn for Node inside
 * Electron's memory cage fails exactly here: "External buffers are not allowed") and one tiny conv forward and
 * backward compared with tfjs's cpu backend. The active backend must be webgpu; it is active again afterwards.
 * A failure is one line, for the run record.
 */
export async function webgpuSelfCheck(): Promise<SelfCheckVerdict> {
  const started = performance.now();
  const backendName = tf.getBackend();
  try {
    const device = (tf.backend() as unknown as { device?: Device }).device;
    if (!device) throw new Error(`the active backend (${backendName}) has no WebGPU device`);
    await mappedRoundTrip(device);
    const gpu = await convForwardBackward();
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    let cpu: Float32Array[];
    try {
      cpu = await convForwardBackward();
    } finally {
      await tf.setBackend(backendName);
    }
    const names = ['conv forward', 'its input gradient', 'its filter gradient'];
    for (const [i, name] of names.entries()) {
      const err = maxError(gpu[i]!, cpu[i]!);
      if (!(err <= 1e-3)) throw new Error(`${name} differs from the cpu backend's (relative error ${err.toPrecision(3)})`);
    }
    return { ok: true, seconds: (performance.now() - started) / 1000 };
  } catch (err) {
    if (tf.getBackend() !== backendName) await tf.setBackend(backendName).catch(() => false);
    return { ok: false, reason: `the WebGPU self-check failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}` };
  }
}
