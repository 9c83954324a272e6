import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

/** Present in a node_modules the host would resolve from (package "exports" can hide package.json from require.resolve). */
function installed(pkg: string): boolean {
  return (requireHere.resolve.paths(pkg) ?? []).some((dir) => fs.existsSync(path.join(dir, pkg, 'package.json')));
}

/**
 * Which backends could train here, judged without loading any (loading one would pull native
 * libraries into the host process; trainers load their own). A trainer may still find one unusable.
 */
export function probeBackends(): { name: string; available: boolean; reason?: string }[] {
  const tf = installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node');
  const vulkan = process.platform !== 'linux' || ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'].some((f) => fs.existsSync(f));
  const webgpu = installed('webgpu') && installed('@tensorflow/tfjs-backend-webgpu');
  return [
    tf ? { name: 'tensorflow', available: true } : { name: 'tensorflow', available: false, reason: '@tensorflow/tfjs-node is not installed' },
    !webgpu
      ? { name: 'webgpu', available: false, reason: 'the webgpu and @tensorflow/tfjs-backend-webgpu packages are not installed' }
      : vulkan
        ? { name: 'webgpu', available: true }
        : { name: 'webgpu', available: false, reason: 'no Vulkan loader (libvulkan.so.1)' },
    installed('@tensorflow/tfjs-backend-wasm') ? { name: 'wasm', available: true } : { name: 'wasm', available: false, reason: '@tensorflow/tfjs-backend-wasm is not installed' },
    { name: 'cpu', available: true },
  ];
}
