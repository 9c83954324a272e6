import { z } from 'zod';
import type { ArchSpec } from './arch-spec.ts';
import type { DownloadProgressEvent } from './dataset-progress.ts';

/** Names of the pretrained ImageNet backbones, as `imagenet:NAME` and the contract take them. */
export const BackboneNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected a backbone name such as resnet18');

/** One known backbone, as the Backbones list and the run form's "Start from" show it. */
export interface BackboneStatus {
  name: string;
  title: string;
  spec: ArchSpec;
  /** The side it was trained at: the import size that suits it. */
  inputSize: number;
  /** Size of the weights file: on disk when cached, else the download's (approximate). */
  bytes: number;
  licence: string;
  cached: boolean;
  /** Cached from the pinned download or a file matching its SHA-256 (true), or added with --unverified (false); null when not cached. */
  verified: boolean | null;
}

export interface BackboneList {
  backbones: BackboneStatus[];
  /** Shown before the first download (the app's Download button, `kiln backbone get`). */
  licenceNote: string;
}

/** Progress of a backbone download, pushed while `backbones.download` runs. */
export interface BackboneProgress {
  name: string;
  event: DownloadProgressEvent;
}
