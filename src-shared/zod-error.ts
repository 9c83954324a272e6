import type { z } from 'zod';

/** One line that names the field and what was wrong with it. */
export function formatZodError(error: z.ZodError, what: string): string {
  const issue = error.issues[0]!;
  const field = issue.path.join('.') || '(root)';
  return `${what}: ${field}: ${issue.message}`;
}
