import os from 'node:os';

/**
 * The memory this process may use: the machine's, or less where a cgroup (a container, systemd's MemoryMax) caps it.
 * KILN_MEMORY_LIMIT_BYTES stands in for it (tests; a person who wants a tighter cap).
 */
export function memoryLimitBytes(env: NodeJS.ProcessEnv = process.env): number {
  const given = Number(env.KILN_MEMORY_LIMIT_BYTES);
  if (Number.isFinite(given) && given > 0) return given;
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.() ?? 0;
  // Node reports "no limit" as 0 or as a number near 2⁶³.
  return constrained > 0 && constrained < os.totalmem() ? constrained : os.totalmem();
}
