/** A nested value as `a.b[0].c = v` rows, in key order: how the run page lists a run's full settings. */
export function flattenRows(value: unknown, prefix = ''): [string, unknown][] {
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) return [[prefix, value.join(' / ')]];
    return value.flatMap((v, i) => flattenRows(v, `${prefix}[${i}]`));
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => flattenRows(v, prefix ? `${prefix}.${k}` : k));
  }
  return value === undefined ? [] : [[prefix, value]];
}
