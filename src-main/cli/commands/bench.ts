import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { backendFlag, numberFlag, parseFlags } from '../args.ts';
import { UsageError } from '../../common/errors.ts';
import { loadBackend } from '../../engine/backend/load-backend.ts';
import { CONCRETE_BACKEND_NAMES, type ConcreteBackendName } from '../../../src-shared/backends.ts';
import { PRESETS } from '../../engine/arch/presets.ts';
import { resolveArch } from '../../training/resolve-config.ts';
import { measureThroughput, type KernelCost } from '../../engine/train/throughput.ts';
import { measureConvPeak } from '../../engine/train/conv-peak.ts';
import { microBatchLimit } from '../../engine/train/micro-batch.ts';
import { buildGraph } from '../../engine/arch/graph.ts';
import { readArch } from './train.ts';

const HELP = `Usage:
  kiln bench --arch <preset|spec.json> [--backend auto] [--batch 128] [--steps N] [--profile] [--json]
  kiln bench --all [--backends ${CONCRETE_BACKEND_NAMES.join(',')}] [--archs resnet-9-s,resnet-9,wrn-22] [--no-torch]

Training GFLOP/s count a step as 3× the architecture's forward FLOPs; "peak" is the same backend's best
GFLOP/s on a large 3×3 convolution, measured in the same process, so "of peak" says how close a preset
runs to what the backend can do here. --profile adds one step timed kernel by kernel.

--all measures every preset on every backend that loads here, each in its own process, beside the
PyTorch reference (bench/torch/reference.py with /usr/bin/python3, when torch is installed).`;

const BIN = fileURLToPath(new URL('../../../bin/kiln.js', import.meta.url));
const TORCH_SCRIPT = fileURLToPath(new URL('../../../bench/torch/reference.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

/** Steps per measurement: fewer for the heavy nets so a full bench stays within minutes on a CPU. */
function defaultSteps(arch: string, backend: string): { steps: number; warmup: number; inferSteps: number } {
  const onCpu = backend === 'cpu' || backend === 'wasm';
  if (backend === 'cpu' || (onCpu && arch === 'wrn-22')) return { steps: 1, warmup: 0, inferSteps: 1 };
  return arch === 'resnet-9' || arch === 'wrn-22' ? { steps: 3, warmup: 1, inferSteps: 2 } : { steps: 8, warmup: 2, inferSteps: 5 };
}

/** The stock cpu backend is 100–200× slower than PyTorch: a step of the big nets would take the better part of an hour. */
const CPU_BACKEND_ARCHS = new Set(['resnet-9-s']);

function runJson(cmd: string, args: string[]): Promise<{ ok: true; value: Record<string, unknown> } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => resolve({ ok: false, error: e.message }));
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        if (code === 0) return resolve({ ok: true, value: JSON.parse(last) });
      } catch {
        /* fall through */
      }
      resolve({ ok: false, error: (err.trim().split('\n').at(-1) || `exit ${code}`).replace(/^kiln: /, '') });
    });
  });
}

async function benchAll(opts: { backends: string[]; archs: string[]; torch: boolean; batch: number }): Promise<number> {
  const torchAvailable =
    opts.torch &&
    fs.existsSync(PYTHON) &&
    (await runJson(PYTHON, ['-c', 'import torch, json; print(json.dumps({"v": torch.__version__}))'])).ok;
  console.log(`kiln bench: batch ${opts.batch}, ${new Date().toISOString()}`);
  if (!torchAvailable) console.log('PyTorch reference: unavailable (apt-get install python3-torch, run with /usr/bin/python3)');
  const header = [
    'arch',
    'backend',
    'train img/s',
    'infer img/s',
    'torch train',
    'torch infer',
    'train ratio',
    'GFLOP/s',
    'peak',
    'of peak',
  ];
  console.log(header.map((h, i) => (i < 2 ? h.padEnd(11) : h.padStart(12))).join(''));
  for (const arch of opts.archs) {
    const torch = torchAvailable
      ? await runJson(PYTHON, [TORCH_SCRIPT, 'throughput', '--arch', arch, '--batch', String(opts.batch), '--threads', '2'])
      : null;
    const tTrain = torch?.ok ? Number(torch.value.trainImagesPerSec) : NaN;
    const tInfer = torch?.ok ? Number(torch.value.inferImagesPerSec) : NaN;
    for (const backend of opts.backends) {
      if (backend === 'cpu' && !CPU_BACKEND_ARCHS.has(arch)) {
        console.log(`${arch.padEnd(11)}${backend.padEnd(11)}  skipped: the cpu backend would take far too long on this net`);
        continue;
      }
      const r = await runJson(process.execPath, [
        BIN,
        'bench',
        '--arch',
        arch,
        '--backend',
        backend,
        '--batch',
        String(opts.batch),
        '--json',
      ]);
      const cells = r.ok
        ? [Number(r.value.trainImagesPerSec), Number(r.value.inferImagesPerSec), tTrain, tInfer, Number(r.value.trainImagesPerSec) / tTrain]
        : null;
      const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '--').padStart(12);
      const gflops = r.ok
        ? [fmt(Number(r.value.trainGflops)), fmt(Number(r.value.peakGflops)), fmt(100 * Number(r.value.shareOfPeak), 0) + '%'].join('')
        : '';
      const row = cells
        ? [fmt(cells[0]!), fmt(cells[1]!), fmt(tTrain), fmt(tInfer), fmt(cells[4]!, 3)].join('') + gflops
        : `  unavailable: ${r.ok ? '' : r.error}`;
      console.log(`${arch.padEnd(11)}${(r.ok ? String(r.value.backend) : backend).padEnd(11)}${row}`);
    }
  }
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseFlags(
    argv,
    {
      arch: { type: 'string' },
      backend: { type: 'string' },
      batch: { type: 'string' },
      steps: { type: 'string' },
      all: { type: 'boolean' },
      backends: { type: 'string' },
      archs: { type: 'string' },
      'no-torch': { type: 'boolean' },
      json: { type: 'boolean' },
      profile: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  const batch = numberFlag('batch', v.batch, { int: true, min: 1, max: 4096 }) ?? 128;
  if (v.all) {
    const backends = v.backends?.split(',') ?? CONCRETE_BACKEND_NAMES;
    for (const b of backends) {
      if (!CONCRETE_BACKEND_NAMES.includes(b as ConcreteBackendName))
        throw new UsageError(`--backends: unknown backend "${b}"; expected some of ${CONCRETE_BACKEND_NAMES.join(', ')}`);
    }
    // The ImageNet backbones are benchmarked at their own sizes, not in the CIFAR-sized --all sweep.
    const archs =
      v.archs?.split(',') ??
      PRESETS.filter((p) => !p.imagenet)
        .map((p) => p.id)
        .reverse();
    return benchAll({ backends, archs, torch: !v['no-torch'], batch });
  }
  if (!v.arch) throw new UsageError('bench: --arch is required (or --all)');
  const backendName = backendFlag(v.backend) ?? 'auto';
  const archArg = readArch(v.arch);
  const { spec } = resolveArch(archArg);
  const backend = await loadBackend(backendName);
  const defaults = defaultSteps(typeof archArg === 'string' ? archArg : 'custom', backend.name);
  const steps = numberFlag('steps', v.steps, { int: true, min: 1, max: 1000 }) ?? defaults.steps;
  const microBatch = microBatchLimit(buildGraph(spec, { imageSize: 32, numClasses: 10 }), batch, backend.name);
  const result = await measureThroughput(spec, { batch, ...defaults, steps, profile: Boolean(v.profile), microBatch });
  // The plain-JS cpu backend would spend minutes on the full-size probe; its ceiling shows on a smaller one.
  const peak = await measureConvPeak(backend.name === 'cpu' ? { batch: 1, calls: 2 } : {});
  const out = {
    trainImagesPerSec: result.trainImagesPerSec,
    inferImagesPerSec: result.inferImagesPerSec,
    trainGflops: result.trainGflops,
    peakGflops: peak.gflops,
    shareOfPeak: result.trainGflops / peak.gflops,
    forwardFlopsPerImage: result.forwardFlopsPerImage,
    trainCpuSecondsPerStep: result.trainCpuSecondsPerStep,
    backend: backend.name,
    device: backend.device,
    batch,
    ...(microBatch < batch ? { microBatch } : {}),
    ...(result.profile ? { profile: result.profile } : {}),
  };
  if (v.json) console.log(JSON.stringify(out));
  else {
    console.log(
      `${v.arch} on ${backend.name} (${backend.device}), batch ${batch}${microBatch < batch ? ` in micro-batches of ≤ ${microBatch}` : ''}: train ${out.trainImagesPerSec.toFixed(1)} img/s ` +
        `(${out.trainGflops.toFixed(1)} GFLOP/s, ${(100 * out.shareOfPeak).toFixed(0)}% of the backend's ${out.peakGflops.toFixed(1)} GFLOP/s ` +
        `peak on a ${peak.input.join('×')} ⊛ ${peak.filter.join('×')} convolution), inference ${out.inferImagesPerSec.toFixed(1)} img/s`,
    );
    if (result.profile) printProfile(result.profile);
  }
  return 0;
}

function printProfile(costs: KernelCost[]): void {
  const total = costs.reduce((a, c) => a + c.ms, 0);
  console.log(`kernel profile of one training step (${total.toFixed(0)} ms in kernels):`);
  for (const c of costs.slice(0, 16)) {
    console.log(
      `  ${c.kernel.padEnd(24)}${c.ms.toFixed(0).padStart(8)} ms${((100 * c.ms) / total).toFixed(1).padStart(7)}%${String(c.calls).padStart(6)} calls`,
    );
  }
}
