import { describe, expect, it } from 'vitest';
import { BACKENDS, BACKEND_NAMES, BackendNameSchema, CONCRETE_BACKEND_NAMES } from '../../../src-shared/backends.ts';
import { RunConfigSchema, DEFAULT_RUN_CONFIG } from '../../../src-shared/run-config.ts';
import { BACKENDS_HELP } from '../../cli/args.ts';
import { autoOrder, BACKEND_REGISTRY, probeBackends } from './registry.ts';

describe('backend registry', () => {
  it('has one entry per name the shared table declares, and the config schema accepts exactly those and auto', () => {
    expect(Object.keys(BACKEND_REGISTRY)).toEqual(Object.keys(BACKENDS));
    expect(BackendNameSchema.options).toEqual(['auto', ...CONCRETE_BACKEND_NAMES]);
    for (const name of BACKEND_NAMES) expect(RunConfigSchema.safeParse({ ...DEFAULT_RUN_CONFIG, backend: name }).success).toBe(true);
    const bad = RunConfigSchema.safeParse({ ...DEFAULT_RUN_CONFIG, backend: 'metal' });
    expect(bad.success).toBe(false);
  });

  it("orders auto CUDA → hardware WebGPU → TensorFlow's CPU build → wasm → cpu", () => {
    expect(autoOrder().map((c) => `${c.name}@${c.rank}`)).toEqual(['tensorflow@10', 'webgpu@20', 'tensorflow@30', 'wasm@40', 'cpu@50']);
  });

  it('probes every backend without loading it, each unavailable one saying why', () => {
    const probes = probeBackends();
    expect(probes.map((p) => p.name)).toEqual(CONCRETE_BACKEND_NAMES);
    // wasm and cpu ship with Kiln.
    expect(probes.find((p) => p.name === 'wasm')).toMatchObject({ available: true, title: BACKENDS.wasm.title });
    expect(probes.find((p) => p.name === 'cpu')).toMatchObject({ available: true });
    for (const p of probes) if (!p.available) expect(p.reason).toMatch(/\S/);
  });

  it('gives the CLI help a line per backend', () => {
    for (const name of CONCRETE_BACKEND_NAMES) expect(BACKENDS_HELP).toContain(`  ${name}`);
  });
});
