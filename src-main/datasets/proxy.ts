import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import { DataError } from '../common/errors.ts';

/**
 * Which proxy a URL goes through, in the PAC result format Chromium's resolver answers with
 * ("PROXY host:port; DIRECT"): the app passes Electron's `session.resolveProxy`, which follows the
 * system's settings (and PAC scripts); the CLI and server pass nothing and connect directly.
 */
export type ProxyResolver = (url: string) => Promise<string>;

export interface HttpProxy {
  host: string;
  port: number;
}

/** The first entry Node's http can use: PROXY host:port, or DIRECT (null). SOCKS and HTTPS proxies are skipped. */
export function parsePacProxy(pac: string): HttpProxy | null {
  for (const entry of pac
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [kind, where] = entry.split(/\s+/, 2);
    if (kind!.toUpperCase() === 'DIRECT') return null;
    if (kind!.toUpperCase() !== 'PROXY' || !where) continue;
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(where);
    if (m) return { host: m[1]!, port: Number(m[2]) };
  }
  return null;
}

/**
 * A GET through an HTTP proxy: plain http in absolute form, https through a CONNECT tunnel with TLS to the
 * server itself (the proxy sees only the host name).
 */
export async function getViaProxy(
  proxy: HttpProxy,
  url: URL,
  options: { headers: Record<string, string>; signal?: AbortSignal; timeout: number },
): Promise<http.ClientRequest> {
  if (url.protocol === 'http:') {
    return http.get({
      host: proxy.host,
      port: proxy.port,
      path: url.href,
      headers: { ...options.headers, host: url.host },
      signal: options.signal,
      timeout: options.timeout,
    });
  }
  const authority = `${url.hostname}:${url.port || 443}`;
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const connect = http.request({
      host: proxy.host,
      port: proxy.port,
      method: 'CONNECT',
      path: authority,
      headers: { host: authority },
      signal: options.signal,
      timeout: options.timeout,
    });
    connect.on('connect', (res, sock) => {
      if (res.statusCode === 200) return resolve(sock);
      sock.destroy();
      reject(new DataError(`the proxy ${proxy.host}:${proxy.port} refused a tunnel to ${authority}: HTTP ${res.statusCode}`));
    });
    connect.on('timeout', () =>
      connect.destroy(Object.assign(new Error(`the proxy ${proxy.host}:${proxy.port} did not answer`), { code: 'ETIMEDOUT' })),
    );
    connect.on('error', reject);
    connect.end();
  });
  return https.get(url, {
    headers: options.headers,
    signal: options.signal,
    timeout: options.timeout,
    agent: false,
    createConnection: () => tls.connect({ socket, servername: url.hostname }),
  });
}
