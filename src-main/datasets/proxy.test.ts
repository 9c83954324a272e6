import { describe, expect, it } from 'vitest';
import { parsePacProxy } from './proxy.ts';

describe('parsePacProxy', () => {
  it('takes the first PROXY entry, or none for DIRECT', () => {
    expect(parsePacProxy('PROXY proxy.corp:3128; DIRECT')).toEqual({ host: 'proxy.corp', port: 3128 });
    expect(parsePacProxy('DIRECT')).toBeNull();
    expect(parsePacProxy('DIRECT; PROXY proxy.corp:3128')).toBeNull();
    expect(parsePacProxy('')).toBeNull();
  });

  it('skips what Node cannot speak (SOCKS, HTTPS proxies) for the next usable entry', () => {
    expect(parsePacProxy('SOCKS5 socks.corp:1080; PROXY 10.0.0.1:8080')).toEqual({ host: '10.0.0.1', port: 8080 });
    expect(parsePacProxy('HTTPS secure.corp:443; DIRECT')).toBeNull();
  });

  it('reads IPv6 proxies', () => {
    expect(parsePacProxy('PROXY [::1]:8080')).toEqual({ host: '::1', port: 8080 });
  });
});
