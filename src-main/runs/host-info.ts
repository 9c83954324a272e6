import os from 'node:os';
import { createRequire } from 'node:module';
import { KILN_VERSION } from '../common/version.ts';
import type { RunRecord } from '../../src-shared/run-types.ts';

const require = createRequire(import.meta.url);

/** Read from package.json rather than importing tfjs: listing runs must not load tfjs. */
function tfjsVersion(): string {
  try {
    return (require('@tensorflow/tfjs-core/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function currentVersions(): RunRecord['versions'] {
  return { kiln: KILN_VERSION, tfjs: tfjsVersion(), node: process.versions.node };
}

export function currentHost(): RunRecord['host'] {
  return {
    hostname: os.hostname(),
    platform: process.platform,
    arch: process.arch,
    cpus: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}
