import type { GraphNode } from '../layers/registry.ts';

/** Collects a graph's nodes as an architecture's builder adds them (graph.ts, imagenet-archs.ts). */
export class GraphBuilder {
  readonly nodes: GraphNode[] = [{ op: 'input', name: 'input' }];
  private counters = new Map<string, number>();

  unique(base: string): string {
    const n = (this.counters.get(base) ?? 0) + 1;
    this.counters.set(base, n);
    return n === 1 ? base : `${base}_${n}`;
  }

  add<T extends GraphNode>(node: T): string {
    this.nodes.push(node);
    return node.name;
  }
  conv(prefix: string, input: string, filters: number, kernel = 3, stride = 1): string {
    return this.add({ op: 'conv', name: `${prefix}/conv`, input, filters, kernel, stride });
  }
  bn(prefix: string, input: string): string {
    return this.add({ op: 'bn', name: `${prefix}/bn`, input });
  }
  relu(prefix: string, input: string): string {
    return this.add({ op: 'relu', name: `${prefix}/relu`, input });
  }
}
