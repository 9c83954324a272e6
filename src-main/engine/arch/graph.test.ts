import { describe, expect, it } from 'vitest';
import { buildGraph, summarize } from './graph.ts';
import { PRESETS, findPreset } from './presets.ts';
import { parseArchSpec } from '../../../src-shared/arch-spec.ts';

const cifar = { imageSize: 32, numClasses: 10 };

describe('presets', () => {
  it('wrn-22 has the PyTorch reference parameter count and 22 convs', () => {
    const graph = buildGraph(findPreset('wrn-22')!.spec, cifar);
    expect(summarize(graph).trainableParams).toBe(9_658_458);
    // 1 stem + 2 per block × 9 blocks + 3 shortcuts.
    expect(graph.nodes.filter((n) => n.op === 'conv').length).toBe(22);
    expect(graph.layers.at(-1)!.outputShape).toEqual([10]);
  });

  it('resnet-9 has the PyTorch reference parameter count', () => {
    expect(summarize(buildGraph(findPreset('resnet-9')!.spec, cifar)).trainableParams).toBe(6_573_120);
  });

  it('resnet-9-s is the same net at quarter width', () => {
    const s = summarize(buildGraph(findPreset('resnet-9-s')!.spec, cifar));
    const full = summarize(buildGraph(findPreset('resnet-9')!.spec, cifar));
    expect(s.layers.map((l) => l.name)).toEqual(full.layers.map((l) => l.name));
    // Conv weights scale with width², so a quarter width is about 1/16 of the parameters.
    expect(s.trainableParams / full.trainableParams).toBeGreaterThan(1 / 17);
    expect(s.trainableParams / full.trainableParams).toBeLessThan(1 / 15);
  });

  it('every preset builds for 32×32 and goes 32→16→8 where it strides (the ImageNet nets 16→…→1)', () => {
    for (const preset of PRESETS) {
      const graph = buildGraph(preset.spec, cifar);
      const sides = new Set(graph.layers.filter((l) => l.outputShape.length === 3).map((l) => l.outputShape[0]));
      // The ImageNet nets stride 32 in all (ResNet: stem 2, max pool 2, then 2 per stage): down to 1 at 32 px.
      const expected =
        preset.spec.kind === 'wide-resnet' ? [32, 16, 8] : preset.spec.kind === 'resnet9' ? [32, 16, 8, 4] : [32, 16, 8, 4, 2, 1];
      expect(
        [...sides].sort((a, b) => b - a),
        preset.id,
      ).toEqual(expected);
      expect(summarize(graph).flopsPerImage).toBeGreaterThan(0);
    }
  });

  it('counts BN running statistics as non-trainable parameters', () => {
    const s = summarize(buildGraph(findPreset('resnet-9')!.spec, cifar));
    // 8 BN layers: 64+128+128+128+256+512+512+512 channels, two running stats each.
    expect(s.params - s.trainableParams).toBe(2 * (64 + 128 * 3 + 256 + 512 * 3));
  });
});

describe('spec validation', () => {
  it('names the field and the bad value', () => {
    expect(() =>
      parseArchSpec({ kind: 'wide-resnet', groups: 0, blocksPerGroup: 3, widthFactor: 6, stemChannels: 16, dropout: 0 }),
    ).toThrow(/groups/);
    expect(() => parseArchSpec({ kind: 'resnet9', widths: [1, 2, 3], outputScale: 1 })).toThrow(/widths/);
    expect(() => parseArchSpec({ kind: 'vgg' })).toThrow(/kind/);
  });

  it('refuses images too small for the pooling', () => {
    expect(() => buildGraph(findPreset('resnet-9')!.spec, { imageSize: 4, numClasses: 10 })).toThrow(/too small/);
  });
});
