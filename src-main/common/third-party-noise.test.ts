import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { finalStderrLines, forwardStderr, stripThirdPartyNoise } from './third-party-noise.ts';

const DAWN =
  'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';

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

describe('a forwarded stderr keeps its last lines for crash reports', () => {
  it('keeps the last whole lines without the noise, and the unfinished one once the stream ends', async () => {
    const from = new PassThrough();
    const to = new PassThrough();
    to.resume();
    const forwarded = forwardStderr(from, to);
    for (let i = 0; i < 30; i++) from.write(`line ${i}\n`);
    from.write(DAWN);
    from.write('FATAL ERROR: Reached heap limit Allocation failed');
    from.end();
    const lines = await finalStderrLines(forwarded);
    expect(lines).toHaveLength(21);
    expect(lines!.slice(0, 2)).toEqual(['line 10', 'line 11']);
    expect(lines!.at(-1)).toBe('FATAL ERROR: Reached heap limit Allocation failed');
    expect(lines!.some((l) => l.includes('maxDynamic'))).toBe(false);
  });

  it('gives what it has when the stream does not end in time', async () => {
    const from = new PassThrough();
    const forwarded = forwardStderr(from, new PassThrough().resume());
    from.write('still running\n');
    expect(await finalStderrLines(forwarded, 20)).toEqual(['still running']);
  });
});
