/**
 * Characters that must not reach a terminal or a label raw: controls (Cc: terminal escapes, newlines) and
 * format characters (Cf: bidirectional overrides such as U+202E, invisible marks that make two names look
 * alike), plus private-use, surrogates and line/paragraph separators. Zero-width (non-)joiners are kept:
 * emoji sequences and several scripts need them.
 */
const UNSAFE = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Zl}\p{Zp}]/gu;

export function hasUnsafeChars(text: string): boolean {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(text);
}

/** The text with each unsafe character written out as `\u{XXXX}`, so it shows instead of acting. */
export function escapeUnsafeChars(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}}`);
}
