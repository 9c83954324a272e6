/**
 * Inside an Electron process (process.versions.electron), Dawn for Node must never load: Electron's memory cage
 * forbids the external buffers its getMappedRange returns. Asked for by name, `webgpu` refuses saying where WebGPU
 * lives in the app; `auto` passes it by; dawn.node is never required. Run in a child process: a module once
 * loaded stays loaded.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loaderArgs } from '../../common/fork-ts.ts';

const run = promisify(execFile);
const here = path.dirname(new URL(import.meta.url).pathname);

const script = (electron: boolean) => `
  ${electron ? "Object.defineProperty(process.versions, 'electron', { value: '45.5.0', enumerable: true });" : ''}
  const { createRequire } = await import('node:module');
  const { loadBackend } = await import(${JSON.stringify(path.join(here, 'load-backend.ts'))});
  const { probeBackends } = await import(${JSON.stringify(path.join(here, 'registry.ts'))});
  const { jobBackend } = await import(${JSON.stringify(path.join(here, 'webgpu-backend.ts'))});
  const out = {};
  try { out.webgpu = (await loadBackend('webgpu')).name; } catch (err) { out.webgpu = { name: err.name, message: err.message }; }
  out.auto = (await loadBackend('auto')).name;
  out.job = jobBackend('webgpu');
  out.probe = probeBackends().find((b) => b.name === 'webgpu');
  out.natives = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.endsWith('.node'));
  console.log(JSON.stringify(out));
`;

async function inChild(electron: boolean) {
  const { stdout } = await run(process.execPath, [...loaderArgs('x.ts'), '--input-type=module', '-e', script(electron)], {
    env: { ...process.env, KILN_WASM_THREADS: '1' },
    maxBuffer: 16 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    webgpu: string | { name: string; message: string };
    auto: string;
    job: string;
    probe: { available: boolean };
    natives: string[];
  };
}

describe('Dawn for Node in Electron processes', () => {
  it('is never loaded: webgpu by name refuses and names the GPU trainer page, auto trains on something else, the app still lists WebGPU', async () => {
    const got = await inChild(true);
    expect(got.webgpu).toMatchObject({
      name: 'BackendUnavailableError',
      message: expect.stringContaining("Chromium's own WebGPU in the GPU trainer page"),
    });
    expect(got.auto).not.toBe('webgpu');
    // A webgpu run's evaluation and LR finder run in utility processes: there they take auto instead of failing.
    expect(got.job).toBe('auto');
    expect(got.probe.available).toBe(true);
    expect(got.natives.filter((n) => /dawn/i.test(n))).toEqual([]);
  }, 120_000);

  it.skipIf(Boolean(process.env.KILN_SKIP_WEBGPU))(
    'outside Electron the same calls do load Dawn (the control: KILN_SKIP_WEBGPU=1 skips it where there is no Vulkan driver)',
    async () => {
      const got = await inChild(false);
      expect(got.natives.some((n) => /dawn/i.test(n))).toBe(true);
      expect(got.job).toBe('webgpu');
    },
    120_000,
  );
});
