/**
 * Contract errors arrive as {name, message}. A validation error reads
 * `runs.start: argument 0.opt.epochs: Too big: …`; `fieldError` turns that into the field's path
 * so the message can be shown at the field that caused it.
 */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message.replace(/^Error invoking remote method '[^']+': (\w*Error: )?/, '');
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

export interface FieldError {
  /** Dotted path inside the argument, e.g. `opt.epochs`; empty when the error is about the whole call. */
  path: string;
  /** Which argument (0-based) of the call. */
  arg: number;
  message: string;
}

const VALIDATION = /^[\w.]+: argument (\d+)((?:\.[\w]+)*): (.*)$/s;

export function fieldError(err: unknown): FieldError | null {
  const m = VALIDATION.exec(errorMessage(err));
  if (!m) return null;
  return { arg: Number(m[1]), path: m[2]!.replace(/^\./, ''), message: m[3]! };
}

/** Field errors keyed by path for one argument; anything else under '' (the form as a whole). */
export function errorsByField(err: unknown, arg = 0): Record<string, string> {
  const f = fieldError(err);
  if (f && f.arg === arg && f.path) return { [f.path]: f.message };
  return { '': errorMessage(err) };
}
