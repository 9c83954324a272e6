/** Downloads through the system's proxy (what the app's Electron resolver answers), with a loopback proxy. */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadWithResume } from '../src-main/datasets/http-download.ts';

const BODY = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 31) & 0xff));

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('downloads through a proxy', () => {
  const seen: { method: string; url: string }[] = [];
  let origin: http.Server;
  let proxy: http.Server;
  let originUrl: string;
  let proxyPort: number;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-proxy-'));
    origin = http.createServer((_req, res) => res.writeHead(200, { 'content-length': BODY.length }).end(BODY));
    originUrl = `http://127.0.0.1:${await listen(origin)}/data.bin`;
    // A forwarding proxy: absolute-form GETs are fetched and relayed; CONNECT tunnels are refused.
    proxy = http.createServer((req, res) => {
      seen.push({ method: req.method!, url: req.url! });
      http
        .get(req.url!, { headers: { range: req.headers.range ?? '' } }, (up) => {
          res.writeHead(up.statusCode!, up.headers);
          up.pipe(res);
        })
        .on('error', () => res.writeHead(502).end());
    });
    proxy.on('connect', (req, socket) => {
      seen.push({ method: 'CONNECT', url: req.url! });
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    });
    proxyPort = await listen(proxy);
  });
  afterAll(() => {
    origin?.close();
    proxy?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fetches an http URL through the PROXY entry the resolver names', async () => {
    seen.length = 0;
    const asked: string[] = [];
    const file = path.join(dir, 'via-proxy.bin');
    const result = await downloadWithResume({
      url: originUrl,
      file,
      proxyFor: async (u) => (asked.push(u), `PROXY 127.0.0.1:${proxyPort}; DIRECT`),
    });
    expect(result.bytes).toBe(BODY.length);
    expect(fs.readFileSync(file).equals(BODY)).toBe(true);
    expect(asked).toEqual([originUrl]);
    expect(seen).toEqual([{ method: 'GET', url: originUrl }]);
  });

  it('connects directly when the resolver says DIRECT', async () => {
    seen.length = 0;
    const file = path.join(dir, 'direct.bin');
    await downloadWithResume({ url: originUrl, file, proxyFor: async () => 'DIRECT' });
    expect(fs.readFileSync(file).equals(BODY)).toBe(true);
    expect(seen).toEqual([]);
  });

  it('asks for a CONNECT tunnel for https and names the proxy that refused it', async () => {
    seen.length = 0;
    const file = path.join(dir, 'tunnel.bin');
    await expect(
      downloadWithResume({
        url: 'https://cifar.kiln.invalid/data.bin',
        file,
        maxRetries: 0,
        proxyFor: async () => `PROXY 127.0.0.1:${proxyPort}`,
      }),
    ).rejects.toThrow(`the proxy 127.0.0.1:${proxyPort} refused a tunnel to cifar.kiln.invalid:443: HTTP 403`);
    expect(seen).toEqual([{ method: 'CONNECT', url: 'cifar.kiln.invalid:443' }]);
  });
});
