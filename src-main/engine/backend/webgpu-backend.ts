import { installed, type BackendEntry, type BackendInfo } from './backend-entry.ts';
import { BackendUnavailableError } from './backend-unavailable.ts';
import { adapterDevice, startWebgpu, vulkanLoaderPresent } from './webgpu.ts';

/**
 * Electron (21+) runs every process inside V8's memory cage, which forbids external ArrayBuffers; Dawn for Node's
 * getMappedRange returns one, so the first upload or read would throw "External buffers are not allowed"
 * (electron/electron#35801). In the app, WebGPU is Chromium's own, in the GPU trainer page (training/gpu).
 */
export function inElectron(): boolean {
  return Boolean((process.versions as { electron?: string }).electron);
}

/**
 * The backend a job (evaluation, LR finder) of a run uses. Inside the app a `webgpu` run trains in the GPU trainer
 * page, but its jobs run in utility processes, where Dawn for Node must not load: there they take `auto` (never
 * Dawn in Electron) rather than failing on the run's own choice.
 */
export function jobBackend<T extends string>(choice: T): T | 'auto' {
  return inElectron() && choice === 'webgpu' ? 'auto' : choice;
}

const IN_ELECTRON =
  "inside the app, WebGPU runs on Chromium's own WebGPU in the GPU trainer page, never through Dawn for Node (Electron's memory cage forbids its external buffers)";

async function loadWebgpu(allowSoftware: boolean): Promise<BackendInfo> {
  if (inElectron()) throw new BackendUnavailableError(`backend "webgpu" is unavailable here: ${IN_ELECTRON}`);
  const adapter = await startWebgpu({ allowSoftware });
  return { name: 'webgpu', tfjsBackend: 'webgpu', device: adapterDevice(adapter), threads: 1, adapter };
}

/** WebGPU through Dawn (the `webgpu` package). Asked for by name it takes any adapter, a software one too. */
export const WEBGPU_BACKEND: BackendEntry = {
  probe: () =>
    // In the app the GPU trainer page brings WebGPU; whether Chromium has an adapter is asked when a run starts.
    inElectron()
      ? { available: true }
      : !(installed('webgpu') && installed('@tensorflow/tfjs-backend-webgpu'))
        ? { available: false, reason: 'the webgpu and @tensorflow/tfjs-backend-webgpu packages are not installed' }
        : vulkanLoaderPresent()
          ? { available: true }
          : { available: false, reason: 'no Vulkan loader (libvulkan.so.1)' },
  load: () => loadWebgpu(true),
  // Never a software adapter for auto: on a 2-core machine Mesa's llvmpipe trains ~40× slower than wasm.
  auto: [{ rank: 20, load: () => loadWebgpu(false) }],
};
