import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './fixtures/runs-fixtures.ts';

/**
 * npm 11 runs a dependency's install scripts only when package.json's `allowScripts` allows it, and warns about
 * every one it neither allows nor denies ("N packages have install scripts not yet covered by allowScripts").
 * A clean `npm install` needs each of them decided; an allowed entry is pinned, so it must name the locked version.
 */
describe('install scripts', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean> };
  const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; hasInstallScript?: boolean }>;
  };
  const withScripts = Object.entries(lock.packages)
    .filter(([where, p]) => where !== '' && p.hasInstallScript)
    .map(([where, p]) => ({ name: where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length), version: p.version! }));
  const policy = Object.entries(pkg.allowScripts).map(([spec, allow]) => {
    const at = spec.lastIndexOf('@');
    return at > 0 ? { name: spec.slice(0, at), version: spec.slice(at + 1), allow } : { name: spec, version: null, allow };
  });

  it('every locked package with an install script is allowed (at its locked version) or denied', () => {
    expect(withScripts.length).toBeGreaterThan(0);
    const undecided = withScripts.filter(
      (d) =>
        !policy.some(
          (p) =>
            p.name === d.name &&
            (p.version === null ||
              p.version
                .split('||')
                .map((v) => v.trim())
                .includes(d.version)),
        ),
    );
    expect(undecided).toEqual([]);
  });

  it("allows only what Kiln needs (TensorFlow's native library for the optional tensorflow backend), and lists no stale entry", () => {
    expect(
      policy
        .filter((p) => p.allow)
        .map((p) => p.name)
        .sort(),
    ).toEqual(['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']);
    expect(policy.filter((p) => !withScripts.some((d) => d.name === p.name)).map((p) => p.name)).toEqual([]);
  });
});
