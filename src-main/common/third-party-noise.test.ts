import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { forwardStderr, stripThirdPartyNoise } from './third-party-noise.ts';

const DAWN = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';

describe('third-party noise', () => {
  it("drops Dawn's adapter-limit warnings and keeps everything else", () => {
    expect(stripThirdPartyNoise(`a\n${DAWN}${DAWN.replace('Uniform', 'Storage')}Warning: disk full\n`)).toBe('a\nWarning: disk full\n');
  });

  it('forwards a child stderr by whole lines, even when a warning arrives split across chunks', async () => {
    const from = new PassThrough();
    const to = new PassThrough();
    let out = '';
    to.on('data', (c: Buffer) => (out += c.toString()));
    forwardStderr(from, to);
    from.write('kiln: first\nWarning: maxDynamicStorageBuffers');
    from.write(DAWN.slice('Warning: maxDynamicStorageBuffers'.length));
    from.write('kiln: last, no newline');
    from.end();
    await new Promise((r) => setImmediate(r));
    expect(out).toBe('kiln: first\nkiln: last, no newline');
  });

  it('lets everything through when KILN_DEBUG is set', () => {
    process.env.KILN_DEBUG = '1';
    try {
      expect(stripThirdPartyNoise(DAWN)).toBe(DAWN);
    } finally {
      delete process.env.KILN_DEBUG;
    }
  });
});
