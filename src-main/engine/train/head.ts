import type { Graph } from '../arch/graph.ts';

/**
 * The head: the dense layer that produces the logits (through any scale or dropout after it).
 * Its parameters are what a new class list replaces; everything before it is the body.
 */
export function headNode(graph: Graph): string {
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  let node = byName.get(graph.output);
  while (node && node.op !== 'dense') node = node.op === 'scale' || node.op === 'dropout' ? byName.get(node.input) : undefined;
  if (!node) throw new Error(`fine-tune: the graph's output ${graph.output} is not computed by a dense layer`);
  return node.name;
}

/** Names of the head's trainable parameters (kernel, and bias when it has one), as the model names them. */
export function headParamNames(graph: Graph): string[] {
  const head = graph.nodes.find((n) => n.name === headNode(graph));
  return head?.op === 'dense' ? [`${head.name}/kernel`, ...(head.useBias ? [`${head.name}/bias`] : [])] : [];
}
