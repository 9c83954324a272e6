import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage } from './decode-image.ts';
import { wantsSharpWasm } from './sharp-build.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('wantsSharpWasm', () => {
  it('is the wasm build in Electron on Linux only, unless KILN_SHARP_WASM says otherwise', () => {
    const electron = { ...process.versions, electron: '45.5.0' };
    const node = { ...process.versions, electron: undefined } as unknown as NodeJS.ProcessVersions;
    expect(wantsSharpWasm(electron, 'linux', {})).toBe(true);
    expect(wantsSharpWasm(electron, 'darwin', {})).toBe(false);
    expect(wantsSharpWasm(electron, 'win32', {})).toBe(false);
    expect(wantsSharpWasm(node, 'linux', {})).toBe(false);
    expect(wantsSharpWasm(node, 'linux', { KILN_SHARP_WASM: '1' })).toBe(true);
    expect(wantsSharpWasm(electron, 'linux', { KILN_SHARP_WASM: '0' })).toBe(false);
  });
});

describe("decoding with sharp's wasm build", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-sharp-wasm-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('loads @img/sharp-wasm32 instead of the native binding and decodes as the native build does', async () => {
    const W = 96,
      H = 64;
    const noise = Buffer.alloc(W * H * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7 + ((i * 2654435761) >>> 24)) & 255;
    const png = path.join(dir, 'a.png');
    const jpg = path.join(dir, 'b.jpg');
    await sharp(noise, { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toFile(png);
    await sharp(noise, { raw: { width: W, height: H, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(jpg);

    // A fresh process: the choice is made once, when sharp is first loaded.
    const script = path.join(dir, 'decode.mjs');
    fs.writeFileSync(
      script,
      `import { createRequire } from 'node:module';
       import { decodeImage } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'src-main/datasets/decode-image.ts')).href)};
       const out = {};
       for (const f of JSON.parse(process.env.FILES)) out[f] = Buffer.from(await decodeImage(f, { size: 32, fit: 'crop' })).toString('base64');
       const loaded = Object.keys(createRequire(import.meta.url).cache);
       console.log(JSON.stringify({ out, wasm: loaded.some((k) => k.includes('sharp-wasm32')), native: loaded.some((k) => /sharp-(linux|darwin|win32)/.test(k)) }));`,
    );
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      env: { ...process.env, KILN_SHARP_WASM: '1', FILES: JSON.stringify([png, jpg]) },
      timeout: 90_000,
    });
    const got = JSON.parse(stdout.trim().split('\n').at(-1)!) as { out: Record<string, string>; wasm: boolean; native: boolean };
    expect(got).toMatchObject({ wasm: true, native: false });
    for (const [file, tolerance] of [
      [png, 2],
      [jpg, 8],
    ] as const) {
      const native = await decodeImage(file, { size: 32, fit: 'crop' });
      const wasm = Buffer.from(got.out[file]!, 'base64');
      expect(wasm.length).toBe(native.length);
      let maxDiff = 0;
      for (let i = 0; i < native.length; i++) maxDiff = Math.max(maxDiff, Math.abs(native[i]! - wasm[i]!));
      expect(maxDiff, file).toBeLessThanOrEqual(tolerance);
    }
  }, 120_000);
});
