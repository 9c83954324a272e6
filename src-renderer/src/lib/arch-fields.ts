import { z } from 'zod';
import { ArchSpecSchema, type ArchSpec } from '../../../src-shared/arch-spec.ts';

/** One editable field of an architecture spec, read off its zod schema (so a new spec field needs no UI code). */
export type ArchField =
  | { key: string; path: (string | number)[]; label: string; kind: 'number'; min?: number; max?: number; int: boolean }
  | { key: string; path: (string | number)[]; label: string; kind: 'choice'; options: string[]; optional: boolean };

/** Fields every spec has that are not edited as numbers or choices. */
const SKIP = new Set(['kind', 'name']);

function title(s: z.ZodType, fallback: string): string {
  const meta = s.meta() as { title?: string } | undefined;
  return meta?.title ?? fallback;
}

function fieldsOf(s: z.ZodType, path: (string | number)[], label: string): ArchField[] {
  const key = path.join('-');
  const optional = s instanceof z.ZodOptional;
  const inner = (optional ? (s as z.ZodOptional<z.ZodType>).unwrap() : s) as z.ZodType;
  const name = title(s, title(inner, label));
  if (inner instanceof z.ZodNumber) {
    return [
      { key, path, label: name, kind: 'number', min: inner.minValue ?? undefined, max: inner.maxValue ?? undefined, int: inner.isInt },
    ];
  }
  if (inner instanceof z.ZodEnum) return [{ key, path, label: name, kind: 'choice', options: inner.options as string[], optional }];
  if (inner instanceof z.ZodTuple)
    return (inner.def.items as z.ZodType[]).flatMap((item, i) => fieldsOf(item, [...path, i], `${name} ${i + 1}`));
  return [];
}

export function archFields(kind: ArchSpec['kind']): ArchField[] {
  const schema = ArchSpecSchema.options.find((o) => o.shape.kind.value === kind);
  if (!schema) return [];
  return Object.entries(schema.shape as Record<string, z.ZodType>)
    .filter(([k]) => !SKIP.has(k))
    .flatMap(([k, s]) => fieldsOf(s, [k], k));
}

export function getAt(spec: ArchSpec, path: (string | number)[]): unknown {
  return path.reduce<unknown>((o, k) => (o as Record<string | number, unknown> | undefined)?.[k], spec);
}

export function setAt(spec: ArchSpec, path: (string | number)[], value: unknown): void {
  const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], spec) as Record<
    string | number,
    unknown
  >;
  const last = path.at(-1)!;
  if (value === undefined) delete parent[last];
  else parent[last] = value;
}
