import type { WebgpuAdapter } from '../../../src-shared/backend-types.ts';
import type { OwnerLink, PageMessage } from './gpu-protocol.ts';
import { nextMessage as next } from './next-message.ts';
import { SelfCheckCache } from './self-check-cache.ts';

export type GpuVerdict =
  { ok: true; adapter: WebgpuAdapter; checked: 'now' | 'cached' } | { ok: false; adapter?: WebgpuAdapter; reason: string };

/**
 * Meets the GPU trainer page before a run's first step: its adapter (Chromium's requestAdapter), and the self-check
 * (engine/backend/webgpu-self-check.ts), cached per adapter and driver. `auto` trains on the page only on a hardware
 * adapter that passed; `webgpu` takes a software adapter too. Any refusal is one line, for the run record.
 */
export async function meetGpuPage(link: OwnerLink, home: string, choice: 'auto' | 'webgpu', timeoutMs = 60_000): Promise<GpuVerdict> {
  let hello: Extract<PageMessage, { type: 'hello' }>;
  try {
    hello = await next(link, 'hello', timeoutMs);
  } catch (err) {
    return { ok: false, reason: `Chromium's WebGPU is unavailable: ${(err as Error).message}` };
  }
  const { adapter, adapterKey } = hello;
  if (adapter.software && choice === 'auto') {
    return {
      ok: false,
      adapter,
      reason: `Chromium's only WebGPU adapter is a software one (${adapter.description || adapter.architecture || adapter.vendor}), slower than wasm`,
    };
  }
  const cache = new SelfCheckCache(home);
  const cached = cache.get(adapterKey);
  if (cached) return cached.ok ? { ok: true, adapter, checked: 'cached' } : { ok: false, adapter, reason: cached.reason };
  await cache.set(adapterKey, { status: 'checking' });
  const checking = next(link, 'checked', timeoutMs);
  link.send({ type: 'check' });
  let result: Extract<PageMessage, { type: 'checked' }>['result'];
  try {
    result = (await checking).result;
  } catch (err) {
    result = { ok: false, reason: `the WebGPU self-check did not finish: ${(err as Error).message}` };
  }
  await cache.set(adapterKey, result.ok ? { status: 'ok' } : { status: 'failed', reason: result.reason });
  return result.ok ? { ok: true, adapter, checked: 'now' } : { ok: false, adapter, reason: result.reason };
}
