import { describe, expect, it } from 'vitest';
import { unpackedPath } from './asar-path.ts';

describe('unpackedPath', () => {
  it('maps a file inside app.asar to the same path under app.asar.unpacked', () => {
    expect(
      unpackedPath('/opt/Kiln/resources/app.asar/node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js'),
    ).toBe('/opt/Kiln/resources/app.asar.unpacked/node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
    expect(unpackedPath('/opt/Kiln/resources/app.asar')).toBe('/opt/Kiln/resources/app.asar.unpacked');
  });

  it('maps Windows paths', () => {
    expect(unpackedPath('C:\\Program Files\\Kiln\\resources\\app.asar\\node_modules\\webgpu\\dist\\win32-x64\\dawn.node')).toBe(
      'C:\\Program Files\\Kiln\\resources\\app.asar.unpacked\\node_modules\\webgpu\\dist\\win32-x64\\dawn.node',
    );
  });

  it('leaves paths outside an archive, already unpacked paths and look-alike names alone', () => {
    for (const p of [
      '/work/kiln/node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/x.js',
      '/opt/Kiln/resources/app.asar.unpacked/node_modules/sharp/package.json',
      '/opt/Kiln/resources/my-app.asar/x.js',
      '/opt/Kiln/resources/app.asarx/x.js',
      'C:\\Kiln\\resources\\app.asar.unpacked\\x.js',
    ]) {
      expect(unpackedPath(p)).toBe(p);
    }
  });

  it('maps only the first archive segment', () => {
    expect(unpackedPath('/a/app.asar/b/app.asar/c')).toBe('/a/app.asar.unpacked/b/app.asar/c');
  });
});
