import fs from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../../common/atomic-write.ts';

/**
 * The WebGPU self-check's verdicts, per adapter and driver (the page's adapter key: vendor, architecture, device,
 * description, driver, and the browser's version, which carries Dawn's), in `<home>/gpu-self-check.json`. A check
 * is recorded as `checking` before it starts: one that never reports (the driver took the GPU process or the page
 * down) reads as failed next time, so a crashing driver is not retried on every run.
 */
export type CachedVerdict = { status: 'ok' | 'failed' | 'checking'; reason?: string; at: string };

const FILE = 'gpu-self-check.json';

export class SelfCheckCache {
  constructor(private readonly home: string) {}

  private get file(): string {
    return path.join(this.home, FILE);
  }

  private read(): Record<string, CachedVerdict> {
    try {
      const parsed = JSON.parse(fs.readFileSync(this.file, 'utf8')) as { verdicts?: Record<string, CachedVerdict> };
      return parsed.verdicts && typeof parsed.verdicts === 'object' ? parsed.verdicts : {};
    } catch {
      // Missing or unreadable: every adapter is checked again, which is safe.
      return {};
    }
  }

  /** The stored verdict; a check that started and never finished is a failure. */
  get(key: string): { ok: true } | { ok: false; reason: string } | null {
    const v = this.read()[key];
    if (!v) return null;
    if (v.status === 'ok') return { ok: true };
    if (v.status === 'checking')
      return {
        ok: false,
        reason: `the WebGPU self-check did not finish on ${v.at} (the GPU driver or its process crashed); delete ${this.file} to try again`,
      };
    return { ok: false, reason: v.reason ?? 'the WebGPU self-check failed' };
  }

  async set(key: string, verdict: Omit<CachedVerdict, 'at'>): Promise<void> {
    const verdicts = this.read();
    verdicts[key] = { ...verdict, at: new Date().toISOString() };
    await writeJsonAtomic(this.file, { verdicts });
  }
}
