/**
 * What a number field's text means: null when empty, NaN while it is not (yet) a number. Plain decimals and
 * exponents only (`1e-3`, `.1`, `-2.5E+4`): `Number()` alone would also take `0x10`, `Infinity` and `1_000`'s cousins.
 */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function parseNumberText(text: string): number | null {
  const t = text.trim();
  if (t === '') return null;
  if (!DECIMAL.test(t)) return NaN;
  const n = Number(t);
  return Number.isFinite(n) ? n : NaN;
}
