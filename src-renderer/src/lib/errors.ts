/**
 * Contract errors arrive as {name, message}. A validation error reads
 * `runs.start: argument 0.opt.epochs: Too big: …`; `fieldError` turns that into the field's path
 * so the message can be shown at the field that caused it.
 */
export function errorMessage(err: unknown): string {
  // Electron's invoke would prefix 'Error invoking remote method …', but the preload answers errors as plain {name, message}.
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

/** A message as shown in the page: paths under the Kiln home lose that prefix (it says nothing, and it is long). */
export function withoutHome(message: string, home: string | undefined): string {
  if (!home) return message;
  const h = home.replace(/[\\/]+$/, '');
  return message
    .split(h + '/')
    .join('')
    .split(h + '\\')
    .join('')
    .split(h)
    .join('the Kiln home');
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

/** The validator's wording ("Too small: expected number to be >=0") in a person's words, shown at a field. */
export function plainFieldMessage(message: string): string {
  const rules: [RegExp, (m: RegExpExecArray) => string][] = [
    [/^Too small: expected number to be >=(\S+)$/, (m) => `At least ${m[1]}.`],
    [/^Too small: expected number to be >(\S+)$/, (m) => `More than ${m[1]}.`],
    [/^Too big: expected number to be <=(\S+)$/, (m) => `At most ${m[1]}.`],
    [/^Too big: expected number to be <(\S+)$/, (m) => `Less than ${m[1]}.`],
    [/^Too small: expected string to have >=1 characters?$/, () => 'Must not be empty.'],
    [/^Too big: expected string to have <=(\d+) characters$/, (m) => `At most ${m[1]} characters.`],
    [/^Invalid input: expected int, received number$/, () => 'Expected a whole number.'],
    [/^Invalid input: expected number, received NaN$/, () => 'Expected a number.'],
    [/^Invalid input: expected (\w+), received (\w+)$/, (m) => `Expected a ${m[1]}, not a ${m[2]}.`],
    [/^Invalid option: expected one of (.*)$/, (m) => `Expected one of ${m[1]!.replace(/\|/g, ', ')}.`],
  ];
  for (const [re, say] of rules) {
    const m = re.exec(message.trim());
    if (m) return say(m);
  }
  return message.charAt(0).toUpperCase() + message.slice(1);
}

/** Field errors keyed by path for one argument; anything else under '' (the form as a whole). */
export function errorsByField(err: unknown, arg = 0): Record<string, string> {
  const f = fieldError(err);
  if (f && f.arg === arg && f.path) return { [f.path]: plainFieldMessage(f.message) };
  return { '': errorMessage(err) };
}
