import type { LayerModule } from './layer-module.ts';

export type InputNode = { op: 'input'; name: string };

/** The image batch itself; the graph's first node. */
export const INPUT: LayerModule<InputNode> = {
  op: 'input',
  inputs: () => [],
  infer: (_node, _inShape, inputShape) => ({ outputShape: inputShape }),
  forward: () => {
    throw new Error('the input node has no forward pass: the model feeds it');
  },
  export: () => {
    throw new Error('the input node is exported as the model input');
  },
};
