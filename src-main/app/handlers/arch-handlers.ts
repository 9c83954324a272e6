import { buildGraph, summarize } from '../../engine/arch/graph.ts';
import { checkModelSize } from '../../engine/arch/model-size.ts';
import { PRESETS } from '../../engine/arch/presets.ts';
import type { HandlerContext, HandlersOf } from './handler-context.ts';

export function archHandlers({ archs }: HandlerContext): HandlersOf<'archs'> {
  return {
    'archs.presets': async () =>
      PRESETS.map((p) => ({
        id: p.id,
        title: p.title,
        spec: p.spec,
        recipe: p.recipe,
        summary: summarize(buildGraph(p.spec, { imageSize: 32, numClasses: 10 })),
      })),
    'archs.summarize': async (spec, imageSize, numClasses) => summarize(buildGraph(spec, { imageSize, numClasses })),
    'archs.listCustom': async () => archs.list(),
    'archs.saveCustom': async (name, spec) => {
      // A spec that cannot be built, or is too large at batch 1 on 32×32 images, is refused here, not at the start of a run.
      checkModelSize(buildGraph(spec, { imageSize: 32, numClasses: 10 }), 1, `architecture "${name}"`);
      await archs.save(name, spec);
    },
    'archs.removeCustom': async (name) => archs.remove(name),
  };
}
