import { defineConfig } from 'vitest/config';
import { stripThirdPartyNoise } from './src-main/common/third-party-noise.ts';

// Test workers' stderr reaches this process through a socket, where native code's warnings (Dawn's adapter
// limit notes on every WebGPU start) cannot be silenced at the source; drop them here as Kiln's hosts do.
const write = process.stderr.write.bind(process.stderr) as (chunk: unknown, ...rest: unknown[]) => boolean;
process.stderr.write = ((chunk: unknown, ...rest: unknown[]) =>
  write(
    typeof chunk === 'string' ? stripThirdPartyNoise(chunk) : Buffer.isBuffer(chunk) ? stripThirdPartyNoise(chunk.toString('utf8')) : chunk,
    ...rest,
  )) as typeof process.stderr.write;

export default defineConfig({
  test: {
    include: [
      'src-main/**/*.test.ts',
      'src-shared/**/*.test.ts',
      'src-preload/**/*.test.ts',
      'src-renderer/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: tfjs tests are CPU-heavy, so run files in forks two at a time.
    pool: 'forks',
    maxWorkers: 2,
  },
});
