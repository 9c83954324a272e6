import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WS_POLICY_VIOLATION, type KilnServer } from '../src-main/server/kiln-server.ts';
import { rawSocket, request, startTestServer } from './server-helpers.ts';

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

const LIMIT = 64 * 1024;

describe('kiln serve: security', () => {
  let server: KilnServer;
  let cleanup: () => Promise<void>;
  let api: string;

  beforeAll(async () => {
    ({ server, cleanup } = await startTestServer({ maxMessageBytes: LIMIT }));
    api = `ws://127.0.0.1:${server.port}/api`;
  });
  afterAll(async () => cleanup?.());

  it('prints a URL on loopback with a fresh random token', () => {
    expect(server.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/\\?token=[A-Za-z0-9_-]{32}$`));
  });

  it('HTTP pages without the token are 401; with it the page is served and no cookie is set', async () => {
    expect((await get(server.port, '/')).status).toBe(401);
    expect((await get(server.port, '/?token=wrong-token-0123456789')).status).toBe(401);
    const ok = await get(server.port, `/?token=${server.token}`);
    expect([200, 503]).toContain(ok.status);
    // A cookie would reach every service on this host, whatever its port: the token stays in the page's memory.
    expect(ok.headers['set-cookie']).toBeUndefined();
    // A traversal never leaves the renderer folder.
    expect((await get(server.port, '/..%2f..%2fpackage.json')).body).not.toMatch(/"name": "kiln"/);
  });

  it("a reload without the token gets a 401 page whose script restores it from this origin's sessionStorage, never a cookie", async () => {
    const page = await get(server.port, '/#/train');
    expect(page.status).toBe(401);
    expect(page.headers['set-cookie']).toBeUndefined();
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    const src = /<script src="([^"]+)"><\/script>/.exec(page.body)![1]!;
    const script = await get(server.port, src);
    expect(script.status).toBe(200);
    expect(script.body).toMatch(/sessionStorage\.getItem\("kiln\.token"\)/);
    expect(script.body).not.toMatch(/cookie/i);
    // The script holds no token itself: it only puts back what the tab kept.
    expect(script.body).not.toContain(server.token);
  });

  it('refuses a Host header that is not this loopback server (DNS rebinding)', async () => {
    expect((await get(server.port, `/?token=${server.token}`, { host: `evil.example:${server.port}` })).status).toBe(421);
  });

  it('a WebSocket without the token, or with a wrong one, is closed with a policy code', async () => {
    for (const url of [api, `${api}?token=nope-nope-nope-nope`]) {
      const { ws, closed } = await rawSocket(url, server.origin);
      const { code, reason } = await closed;
      expect(code).toBe(WS_POLICY_VIOLATION);
      expect(reason).toMatch(/token/);
      expect(ws.readyState).toBe(ws.CLOSED);
    }
  });

  it('a WebSocket from a foreign Origin, or none, is closed with a policy code', async () => {
    for (const origin of ['http://evil.example', `http://127.0.0.1:${server.port + 1}`, undefined]) {
      const { closed } = await rawSocket(`${api}?token=${server.token}`, origin);
      const { code, reason } = await closed;
      expect(code).toBe(WS_POLICY_VIOLATION);
      expect(reason).toMatch(/origin/);
    }
  });

  it('an accepted connection is greeted with the server version', async () => {
    const { ws, first } = await rawSocket(`${api}?token=${server.token}`, server.origin);
    expect(JSON.parse(await first)).toEqual({ hello: { version: expect.stringMatching(/^\d+\.\d+\.\d+/) } });
    ws.close();
  });

  it('oversized, malformed, unknown and invalid messages each get an error reply and the server keeps answering', async () => {
    const { ws } = await rawSocket(`${api}?token=${server.token}`, server.origin);
    const big = JSON.stringify({ id: 7, method: 'runs.predict', args: ['x', 'A'.repeat(LIMIT), 3] });
    const cases: [string, unknown, string, RegExp][] = [
      [big, 7, 'MessageTooLargeError', /over the limit of 65536 bytes/],
      ['{"id": 1, "method": ', 1, 'ProtocolError', /malformed JSON/],
      ['[1,2,3]', null, 'ProtocolError', /expected an object/],
      [JSON.stringify({ id: { x: 1 }, method: 'app.info' }), null, 'ProtocolError', /^id:/],
      [JSON.stringify({ id: 2, method: 'runs.fly', args: [] }), 2, 'UnknownMethodError', /unknown method "runs.fly"/],
      [JSON.stringify({ id: 3, method: 'constructor', args: [] }), 3, 'UnknownMethodError', /unknown method/],
      [JSON.stringify({ id: 4, method: 'runs.get', args: [42] }), 4, 'ValidationError', /^runs\.get: argument 0: /],
      [JSON.stringify({ id: 5, method: 'runs.get', args: ['../../etc'] }), 5, 'InvalidRunIdError', /run id/],
      [JSON.stringify({ id: 6, method: 'app.info', args: 'nope' }), 6, 'ProtocolError', /args: expected an array/],
      [JSON.stringify({ id: 8, method: 'datasets.get', args: ['../secrets'] }), 8, 'UsageError', /invalid dataset id/],
      [
        JSON.stringify({ id: 9, method: 'runs.export', args: ['some-run', 'relative/dir'] }),
        9,
        'PathNotAllowedError',
        /expected an absolute path/,
      ],
    ];
    for (const [text, id, name, message] of cases) {
      const reply = await request(ws, text);
      expect(reply.id, text.slice(0, 60)).toEqual(id);
      expect(reply.error?.name, text.slice(0, 60)).toBe(name);
      expect(reply.error?.message, text.slice(0, 60)).toMatch(message);
      const info = await request(ws, JSON.stringify({ id: 100, method: 'app.info', args: [] }));
      expect((info.result as { version: string }).version).toMatch(/^\d+\.\d+\.\d+/);
    }
    ws.close();
  });

  it('the browser client reports a refused connection as a readable error', async () => {
    const { browserClient } = await import('./server-helpers.ts');
    const client = browserClient(server, { token: 'wrong-token-wrong-token' });
    await expect(client.ready).rejects.toMatchObject({
      name: 'ConnectionRefusedError',
      message: expect.stringMatching(/missing or wrong token/),
    });
    await expect(client.call('app.info')).rejects.toMatchObject({ name: 'ConnectionRefusedError' });
    const foreign = browserClient(server, { origin: 'http://evil.example' });
    await expect(foreign.ready).rejects.toMatchObject({ message: expect.stringMatching(/origin http:\/\/evil\.example is not allowed/) });
  });

  it('a frame far over the limit closes only that connection', async () => {
    const { ws, closed } = await rawSocket(`${api}?token=${server.token}`, server.origin);
    ws.send(Buffer.alloc(LIMIT * 3, 0x20).toString());
    expect((await closed).code).toBe(1009);
    const { ws: again } = await rawSocket(`${api}?token=${server.token}`, server.origin);
    expect((await request(again, '{"id":1,"method":"datasets.list","args":[]}')).error).toBeUndefined();
    again.close();
  });
});

describe('kiln serve: binding', () => {
  it('refuses a non-loopback host without --allow-remote', async () => {
    const { startKilnServer } = await import('../src-main/server/kiln-server.ts');
    await expect(startKilnServer({ home: '/nonexistent-kiln-home', host: '0.0.0.0', port: 0 })).rejects.toThrow(/--allow-remote/);
    await expect(startKilnServer({ home: '/nonexistent-kiln-home', port: 0, token: 'short' })).rejects.toThrow(/--token: expected 16/);
  });
});
