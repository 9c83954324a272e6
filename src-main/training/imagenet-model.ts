import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BackboneStore, type BackboneRecord } from '../backbones/backbone-store.ts';
import type { DecodeOptions } from '../datasets/decode-image.ts';
import { loadBackboneWeights } from '../engine/backbones/load-weights.ts';
import { backboneGraph, type BackboneInfo } from '../engine/backbones/registry.ts';
import { buildLayersModel } from '../engine/model/layers-model.ts';
import { KILN_VERSION } from '../common/version.ts';
import IMAGENET_CLASSES from '../engine/backbones/imagenet-classes.json';
import type { KilnExport } from './kiln-export.ts';

/** ImageNet-1k's class names in the order of the 1000 logits (torchvision's wording). */
export const IMAGENET_CLASS_NAMES: readonly string[] = IMAGENET_CLASSES;

/** How the backbone's pretrained config resizes an image: short side to floor(size / crop_pct), centre crop. */
export function backboneDecodeOptions(backbone: BackboneInfo): DecodeOptions {
  const p = backbone.preprocess;
  return {
    size: p.inputSize,
    fit: 'crop',
    scaleTo: Math.floor(p.inputSize / p.cropPct),
    kernel: p.interpolation === 'bicubic' ? 'cubic' : 'linear',
  };
}

export interface ImagenetModel {
  backbone: BackboneInfo;
  record: BackboneRecord;
  model: tfl.LayersModel;
  /** Described as an export is, so predict's preprocessing and output code serve it unchanged. */
  kiln: KilnExport;
  decode: DecodeOptions;
}

/**
 * A stored backbone with its own 1000-class ImageNet head, as the tfjs-layers model every export runs on:
 * the first check that its weights were read right (a known photo gets its known class).
 */
export async function loadImagenetModel(home: string, name: string): Promise<ImagenetModel> {
  const { backbone, file, record } = await new BackboneStore(home).resolve(name);
  const graph = backboneGraph(backbone);
  const weights = await loadBackboneWeights(file, backbone, graph);
  const tensors = new Map([...weights].map(([k, w]) => [k, tf.tensor(w.data, w.shape)] as const));
  let model: tfl.LayersModel;
  try {
    model = buildLayersModel(graph, tensors);
  } finally {
    tf.dispose([...tensors.values()]);
  }
  const p = backbone.preprocess;
  const kiln: KilnExport = {
    format: 1,
    runId: `imagenet:${name}`,
    runName: backbone.title,
    checkpoint: 'best',
    epoch: 0,
    classes: [...IMAGENET_CLASS_NAMES],
    imageSize: p.inputSize,
    fit: 'crop',
    mean: p.mean,
    std: p.std,
    arch: backbone.spec,
    valAcc: null,
    ttaAcc: null,
    dataset: { id: 'imagenet-1k', name: 'ImageNet-1k', manifestHash: record.sha256 },
    kilnVersion: KILN_VERSION,
    exportedAt: record.addedAt,
  };
  return { backbone, record, model, kiln, decode: backboneDecodeOptions(backbone) };
}
