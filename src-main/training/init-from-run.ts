import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../common/errors.ts';
import type { ArchSpec } from '../../src-shared/arch-spec.ts';
import type { Graph } from '../engine/arch/graph.ts';
import { readCheckpointMeta, resolveCheckpoint } from '../engine/train/checkpoint.ts';
import { headParamNames, INIT_SLOT } from '../engine/train/fine-tune.ts';
import { RunStore } from '../runs/run-store.ts';
import { checkpointEpoch } from './run-model.ts';
import type { RunOrigin, RunRecord } from '../../src-shared/run-types.ts';

/** A spec without its display name, keys sorted at every level: two specs that build the same network compare equal. */
function shapeOf(spec: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, x]) => [k, canonical(x)]),
          )
        : v;
  const { name: _name, ...rest } = (spec ?? {}) as Record<string, unknown>;
  return JSON.stringify(canonical(rest));
}

/**
 * Check that run `sourceId` can seed a new run of `spec` on a dataset with `classes`, and say how:
 * the origin to record, and a `prepare` that links the source's best checkpoint into the new run's
 * folder (checkpoint folders are never rewritten in place, so a hard link is a safe copy; the new
 * run keeps its starting weights even if the source run is removed or trained further).
 */
export async function planInitFrom(
  home: string,
  sourceId: string,
  target: { spec: ArchSpec; graph: Graph; classes: string[] },
): Promise<{ origin: RunOrigin; prepare: (runDir: string) => Promise<void> }> {
  const store = new RunStore(home);
  const source: RunRecord = await store.get(sourceId);
  const sourceSpec = source.resolved.config.net.arch;
  if (shapeOf(sourceSpec) !== shapeOf(target.spec)) {
    throw new UsageError(
      `start from run ${sourceId}: it trained ${describe(sourceSpec)}, this run asks for ${describe(target.spec)}; ` +
        `fine-tuning keeps the architecture (choose the source run's)`,
    );
  }
  const checkpoint = resolveCheckpoint(path.join(store.checkpointDir(sourceId), 'best'));
  if (!checkpoint) throw new UsageError(`start from run ${sourceId}: it has no finished epoch to start from (no best checkpoint)`);
  const meta = await readCheckpointMeta(checkpoint);
  const sameClasses = JSON.stringify(source.dataset.classes) === JSON.stringify(target.classes);
  const origin: RunOrigin = {
    runId: source.id,
    runName: source.name,
    checkpoint: 'best',
    epoch: checkpointEpoch(meta),
    valAcc: source.best?.valAcc ?? null,
    dataset: { id: source.dataset.id, name: source.dataset.name },
    classes: source.dataset.classes,
    head: sameClasses ? 'kept' : 'reinitialised',
    reinitialised: sameClasses ? [] : headParamNames(target.graph),
  };
  const prepare = async (runDir: string) => {
    const dest = path.join(runDir, 'checkpoints', INIT_SLOT);
    await fs.promises.mkdir(dest, { recursive: true });
    for (const file of await fs.promises.readdir(checkpoint)) {
      const from = path.join(checkpoint, file);
      const to = path.join(dest, file);
      await fs.promises.link(from, to).catch(() => fs.promises.copyFile(from, to));
    }
  };
  return { origin, prepare };
}

function describe(spec: unknown): string {
  const s = (spec ?? {}) as { name?: string; kind?: string };
  return s.name ? `"${s.name}"` : `a custom ${s.kind ?? 'architecture'} spec`;
}
