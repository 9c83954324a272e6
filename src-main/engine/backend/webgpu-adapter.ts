import type { WebgpuAdapter } from '../../../src-shared/backend-types.ts';

/** What WebGPU adapters say about themselves, for Dawn for Node and Chromium's navigator.gpu alike (no Node here). */
export interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string; device?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|softpipe|software rasterizer|microsoft basic render/i;

export function describeAdapter(adapter: GpuAdapterLike): WebgpuAdapter {
  const info = adapter.info ?? {};
  const vendor = info.vendor ?? '';
  const architecture = info.architecture ?? '';
  const description = info.description || info.device || '';
  const software =
    Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) ||
    architecture === 'software' ||
    SOFTWARE_NAMES.test(`${vendor} ${architecture} ${description} ${info.device ?? ''}`);
  return { vendor, architecture, description, software };
}

/** "GPU (WebGPU: NVIDIA H200, nvidia hopper)", "CPU (WebGPU software adapter: llvmpipe …)". */
export function adapterDevice(a: WebgpuAdapter): string {
  const name = a.description || a.vendor || 'unnamed adapter';
  const detail = [a.vendor, a.architecture].filter((s) => s && !name.toLowerCase().includes(s.toLowerCase())).join(' ');
  return a.software ? `CPU (WebGPU software adapter: ${name})` : `GPU (WebGPU: ${name}${detail ? `, ${detail}` : ''})`;
}
