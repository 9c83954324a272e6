import { installed, type BackendEntry, type BackendInfo } from './backend-entry.ts';
import { adapterDevice, startWebgpu, vulkanLoaderPresent } from './webgpu.ts';

async function loadWebgpu(allowSoftware: boolean): Promise<BackendInfo> {
  const adapter = await startWebgpu({ allowSoftware });
  return { name: 'webgpu', tfjsBackend: 'webgpu', device: adapterDevice(adapter), threads: 1, adapter };
}

/** WebGPU through Dawn (the `webgpu` package). Asked for by name it takes any adapter, a software one too. */
export const WEBGPU_BACKEND: BackendEntry = {
  probe: () =>
    !(installed('webgpu') && installed('@tensorflow/tfjs-backend-webgpu'))
      ? { available: false, reason: 'the webgpu and @tensorflow/tfjs-backend-webgpu packages are not installed' }
      : vulkanLoaderPresent()
        ? { available: true }
        : { available: false, reason: 'no Vulkan loader (libvulkan.so.1)' },
  load: () => loadWebgpu(true),
  // Never a software adapter for auto: on a 2-core machine Mesa's llvmpipe trains ~40× slower than wasm.
  auto: [{ rank: 20, load: () => loadWebgpu(false) }],
};
