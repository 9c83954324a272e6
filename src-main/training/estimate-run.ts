import type { RunConfig } from '../../src-shared/run-config.ts';
import type { RunEstimate } from '../../src-shared/contract.ts';
import type { ArchSpec } from '../../src-shared/arch-spec.ts';
import { buildGraph, summarize } from '../engine/arch/graph.ts';
import { currentHost } from '../runs/host-info.ts';
import { runArchLabel } from '../runs/run-id.ts';
import { RunStore } from '../runs/run-store.ts';
import { resolveRequest } from './create-run.ts';
import { datasetSource } from './dataset-source.ts';

/** What a past run on this machine cost: training seconds per image trained (its evaluations included). */
export interface TimedRun {
  arch: string;
  imageSize: number;
  backend: string;
  secondsPerImage: number;
  /** Forward FLOPs of one image of its architecture at its size: to scale to another architecture or size. */
  flopsPerImage: number;
}

export interface EstimateTarget {
  arch: string;
  imageSize: number;
  /** `auto`: any backend this machine trained on. */
  backend: string;
  /** Images the run will train on: steps × batch. */
  images: number;
  flopsPerImage: number;
}

/** Used only when no run has been timed here: a modest CPU's training rate, counting a step as 3× the forward FLOPs. */
const ASSUMED_TRAIN_GFLOPS = 30;
/** The newest runs speak for the machine as it is now (drivers, backends and neighbours change). */
const NEWEST = 5;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * Training time of a run before it starts: past runs on this machine with the same architecture, image size (and
 * backend, when one is named) first; else scaled by FLOPs from other runs here, or an assumed rate, said to be rough.
 * `past` is newest first.
 */
export function estimateSeconds(past: readonly TimedRun[], want: EstimateTarget): RunEstimate {
  const here = past.filter((p) => want.backend === 'auto' || p.backend === want.backend);
  const same = here.filter((p) => p.arch === want.arch && p.imageSize === want.imageSize).slice(0, NEWEST);
  if (same.length) {
    const n = same.length;
    return {
      seconds: median(same.map((p) => p.secondsPerImage)) * want.images,
      basis: 'past',
      note: `from ${n} past run${n === 1 ? '' : 's'} of ${want.arch} at ${want.imageSize} px on this machine`,
    };
  }
  const others = here.filter((p) => p.flopsPerImage > 0).slice(0, NEWEST);
  if (others.length) {
    const secondsPerFlop = median(others.map((p) => p.secondsPerImage / p.flopsPerImage));
    return {
      seconds: secondsPerFlop * want.flopsPerImage * want.images,
      basis: 'rough',
      note: `rough: no past run of ${want.arch} at ${want.imageSize} px here; scaled by FLOPs from ${others.length} other run${others.length === 1 ? '' : 's'} on this machine`,
    };
  }
  return {
    seconds: (3 * want.flopsPerImage * want.images) / (ASSUMED_TRAIN_GFLOPS * 1e9),
    basis: 'rough',
    note: `rough guess: no run has been timed on this machine yet (assumes ${ASSUMED_TRAIN_GFLOPS} GFLOP/s)`,
  };
}

/** The estimate for a request as Start would resolve it, from the run store under `home`. */
export async function estimateRun(home: string, request: RunConfig): Promise<RunEstimate> {
  const { dataset, resolved } = await resolveRequest(home, request);
  return estimateSeconds(await timedRuns(home), {
    arch: runArchLabel({ resolved }),
    imageSize: dataset.imageSize,
    backend: resolved.config.backend,
    images: resolved.totalSteps * resolved.config.opt.batchSize,
    flopsPerImage: flopsPerImage(resolved.config.net.arch, dataset.imageSize, dataset.classes.length),
  });
}

/** Runs of this host that trained a while, newest first, with what each image cost; runs whose dataset is gone are left out (its image size is unknown). */
async function timedRuns(home: string): Promise<TimedRun[]> {
  const host = currentHost().hostname;
  const sizes = new Map<string, Promise<number | null>>();
  const sizeOf = (id: string) => {
    if (!sizes.has(id))
      sizes.set(
        id,
        datasetSource(home, id)
          .describe()
          .then(
            (d) => d.imageSize,
            () => null,
          ),
      );
    return sizes.get(id)!;
  };
  const out: TimedRun[] = [];
  for (const r of (await new RunStore(home).list()).runs) {
    const images = r.progress.step * r.resolved.config.opt.batchSize;
    if (r.host.hostname !== host || images <= 0 || r.wallSeconds <= 0) continue;
    const imageSize = await sizeOf(r.dataset.id);
    if (imageSize === null) continue;
    let flops = 0;
    try {
      flops = flopsPerImage(r.resolved.config.net.arch, imageSize, r.dataset.classes.length);
    } catch {
      /* a spec this version cannot build: still timed for its own architecture */
    }
    out.push({
      arch: runArchLabel(r),
      imageSize,
      backend: r.backend?.name ?? r.resolved.config.backend,
      secondsPerImage: r.wallSeconds / images,
      flopsPerImage: flops,
    });
  }
  return out;
}

function flopsPerImage(spec: ArchSpec, imageSize: number, numClasses: number): number {
  return summarize(buildGraph(spec, { imageSize, numClasses })).flopsPerImage;
}
