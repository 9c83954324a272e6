import fs from 'node:fs';
import path from 'node:path';
import type { BackboneStatus } from '../../src-shared/backbones.ts';
import type { DownloadProgressEvent } from '../../src-shared/dataset-progress.ts';
import { IMAGENET_PREFIX } from '../../src-shared/run-config.ts';
import { hashFile } from '../common/hash-file.ts';
import type { Graph } from '../engine/arch/graph.ts';
import { loadBackboneWeights } from '../engine/backbones/load-weights.ts';
import { findBackbone, LICENCE_NOTE as NOTE, type BackboneInfo } from '../engine/backbones/registry.ts';
import { BackboneStore, knownBackbone, type BackboneStatus as StoreStatus } from '../backbones/backbone-store.ts';
import type { ProxyResolver } from '../datasets/proxy.ts';

/**
 * The one place training and the app read pretrained backbones from: the registry (engine/backbones) and the
 * weights store under the Kiln home. Tests add reduced-width backbones of their own with `registerBackbone`.
 */
export const LICENCE_NOTE = NOTE;

export interface BackboneEntry {
  name: string;
  title: string;
  info: Pick<BackboneInfo, 'spec' | 'torchName'>;
  spec: BackboneInfo['spec'];
  /** The side it was trained at (its config's input size). */
  inputSize: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/** A weights file in place for a run: the path, its SHA-256, and whether it matched the pin. */
export interface BackboneFile {
  file: string;
  sha256: string;
  verified: boolean;
}

const extra = new Map<string, { entry: BackboneEntry; file: string }>();

/** For tests: a backbone (a reduced-width spec) with its weights file, known in this process only. */
export function registerBackbone(info: TestBackbone, file: string): void {
  extra.set(info.name, { entry: entryOf(info), file });
}

type TestBackbone = Pick<BackboneInfo, 'title' | 'spec' | 'preprocess' | 'torchName'> & { name: string };

function entryOf(info: TestBackbone): BackboneEntry {
  return {
    name: info.name,
    title: info.title,
    info,
    spec: info.spec,
    inputSize: info.preprocess.inputSize,
    mean: info.preprocess.mean,
    std: info.preprocess.std,
  };
}

/** The backbone named by `imagenet:NAME`, or null when `initFrom` names a run. */
export function backboneName(initFrom: string | undefined): string | null {
  return initFrom?.startsWith(IMAGENET_PREFIX) ? initFrom.slice(IMAGENET_PREFIX.length) : null;
}

export function findBackboneEntry(name: string): BackboneEntry {
  const known = findBackbone(name);
  if (known) return entryOf(known);
  const added = extra.get(name);
  if (added) return added.entry;
  return entryOf(knownBackbone(name));
}

/** `--for imagenet:NAME` (or just NAME) of a dataset import: the backbone's name and input size. */
export function backboneForImport(value: string): { name: string; inputSize: number } {
  const entry = findBackboneEntry(backboneName(value) ?? value);
  return { name: entry.name, inputSize: entry.inputSize };
}

/** The backbone's weights in the store, checked to be there (a clear error naming `kiln backbone get` when not). */
export async function resolveBackboneFile(home: string, name: string): Promise<BackboneFile> {
  const added = extra.get(name);
  if (added) return { file: added.file, sha256: await hashFile(added.file, 'sha256'), verified: false };
  return storeResolve(home, name);
}

/** Hard-link the backbone's weights into a new run's folder, so the run keeps them whatever happens to the store. */
export async function linkBackboneInto(home: string, name: string, runDir: string): Promise<string> {
  const added = extra.get(name);
  if (!added) return storeLinkInto(home, name, runDir);
  const to = runWeightsFile(runDir, name);
  await fs.promises.link(added.file, to).catch(() => fs.promises.copyFile(added.file, to));
  return to;
}

/** Where a run keeps the backbone weights it started from. */
export function runWeightsFile(runDir: string, name: string): string {
  return path.join(runDir, `${name}.safetensors`);
}

/** A run's backbone weights mapped onto `graph`, leaving out the names in `skip` (a new head). */
export async function readRunBackboneWeights(runDir: string, name: string, graph: Graph, skip: ReadonlySet<string>) {
  return loadBackboneWeights(runWeightsFile(runDir, name), findBackboneEntry(name).info, graph, { skip });
}

async function storeResolve(home: string, name: string): Promise<BackboneFile> {
  const { file, record } = await new BackboneStore(home).resolve(name);
  return { file, sha256: record.sha256, verified: record.verified };
}

async function storeLinkInto(home: string, name: string, runDir: string): Promise<string> {
  return (await new BackboneStore(home).linkInto(name, runDir)).file;
}

/** The Backbones list of the app: every known backbone, whether it is here, its size and licence. */
export async function backboneStatuses(home: string): Promise<BackboneStatus[]> {
  return Promise.all((await new BackboneStore(home).list()).map(toStatus));
}

export async function backboneStatus(home: string, name: string): Promise<BackboneStatus> {
  const found = (await new BackboneStore(home).list()).find((b) => b.name === name);
  if (!found) knownBackbone(name);
  return toStatus(found!);
}

function toStatus(b: StoreStatus): BackboneStatus {
  return {
    name: b.name,
    title: b.title,
    spec: knownBackbone(b.name).spec,
    inputSize: b.inputSize,
    bytes: b.cached?.bytes ?? b.approxBytes,
    licence: b.licence,
    cached: b.cached !== null,
    verified: b.cached ? b.cached.verified : null,
  };
}

/** Download the pinned weights; the caller has shown the licence note and the person accepted it. */
export async function fetchBackbone(
  home: string,
  name: string,
  onProgress: (e: DownloadProgressEvent) => void,
  signal: AbortSignal,
  proxyFor?: ProxyResolver,
): Promise<void> {
  await new BackboneStore(home).download(name, { acceptLicence: true, onProgress, signal, ...(proxyFor ? { proxyFor } : {}) });
}

export async function installBackbone(home: string, name: string, file: string, opts: { unverified: boolean }): Promise<void> {
  await new BackboneStore(home).add(name, file, opts);
}
