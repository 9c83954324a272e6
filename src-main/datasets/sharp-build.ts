import Module from 'node:module';
import type sharpType from 'sharp';

/*
 * Which sharp build decodes images. Electron's Linux binary loads the system's GLib; sharp's native libvips brings
 * its own, and the two can collide in any Electron process (main or utility) with a segfault or an abort on the
 * first image (sharp prints its `SharpElectronLinux` warning about it). There Kiln loads sharp's WebAssembly build
 * (@img/sharp-wasm32), slower but free of native libraries. KILN_SHARP_WASM=1 asks for it anywhere (benchmarks,
 * tests); KILN_SHARP_WASM=0 keeps the native build even in Electron on Linux.
 */
export function wantsSharpWasm(
  versions: NodeJS.ProcessVersions = process.versions,
  platform: NodeJS.Platform = process.platform,
  env = process.env,
): boolean {
  if (env.KILN_SHARP_WASM === '1') return true;
  if (env.KILN_SHARP_WASM === '0') return false;
  return !!versions.electron && platform === 'linux';
}

// The native bindings sharp's loader tries before its wasm build (dist/sharp.cjs): its own build folder, then @img.
const NATIVE = /(^@img\/sharp-(?!wasm32)[^/]+\/sharp\.node$)|([\\/]src[\\/]build[\\/]Release[\\/]sharp-(?!wasm32)[^\\/]+\.node$)/;

function hideNativeSharp(): void {
  const M = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = M._resolveFilename;
  M._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
    if (NATIVE.test(request))
      throw Object.assign(new Error(`Cannot find module '${request}' (Kiln loads sharp's wasm build here)`), { code: 'MODULE_NOT_FOUND' });
    return resolve.call(this, request, ...rest);
  };
}

let loaded: Promise<typeof sharpType> | undefined;

/** sharp, loaded on first use (a dynamic import, so the choice above is made before sharp looks for a binding). */
export function loadSharp(): Promise<typeof sharpType> {
  return (loaded ??= (async () => {
    if (wantsSharpWasm()) hideNativeSharp();
    return (await import('sharp')).default;
  })());
}
