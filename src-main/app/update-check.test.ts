import fs from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_REPOSITORY, RELEASES_PAGE } from '../common/project.ts';
import { checkForUpdate, isNewerVersion } from './update-check.ts';

describe('the update check', () => {
  let server: http.Server;
  let base: string;
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  const seen: http.IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/releases/latest`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('compares release versions, never offering a pre-release', () => {
    expect(isNewerVersion('v0.2.0', '0.1.0')).toBe(true);
    expect(isNewerVersion('0.10.0', '0.9.3')).toBe(true);
    expect(isNewerVersion('v0.1.0', '0.1.0')).toBe(false);
    expect(isNewerVersion('v0.0.9', '0.1.0')).toBe(false);
    expect(isNewerVersion('v0.2.0-beta.1', '0.1.0')).toBe(false);
    expect(isNewerVersion('v0.1.0', '0.1.0-dev')).toBe(false);
  });

  it('reads the latest release from the feed and gives its page', async () => {
    answer = { status: 200, body: { tag_name: 'v0.3.1', html_url: `${RELEASES_PAGE}/tag/v0.3.1`, draft: false, prerelease: false } };
    expect(await checkForUpdate({ feedUrl: base, current: '0.1.0' })).toEqual({ version: '0.3.1', url: `${RELEASES_PAGE}/tag/v0.3.1` });
    expect(seen.at(-1)!['user-agent']).toBe('Kiln/0.1.0');
    // A page elsewhere is not passed on: the notice links the project's releases.
    answer = { status: 200, body: { tag_name: 'v0.3.1', html_url: 'https://evil.example/kiln.exe' } };
    expect(await checkForUpdate({ feedUrl: base, current: '0.1.0' })).toEqual({ version: '0.3.1', url: RELEASES_PAGE });
  });

  it('says nothing when this is the latest, and throws a readable error on a bad feed', async () => {
    answer = { status: 200, body: { tag_name: 'v0.1.0' } };
    expect(await checkForUpdate({ feedUrl: base, current: '0.1.0' })).toBeNull();
    answer = { status: 200, body: { tag_name: 'v9.0.0', prerelease: true } };
    expect(await checkForUpdate({ feedUrl: base, current: '0.1.0' })).toBeNull();
    answer = { status: 403, body: { message: 'rate limited' } };
    await expect(checkForUpdate({ feedUrl: base, current: '0.1.0' })).rejects.toThrow(`the releases feed ${base} answered HTTP 403`);
  });

  it('names the same project as package.json (the deb homepage, the repository)', () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      homepage: string;
      repository: { url: string };
    };
    expect(pkg.homepage).toBe(`https://github.com/${PROJECT_REPOSITORY}`);
    expect(pkg.repository.url).toContain(`github.com/${PROJECT_REPOSITORY}.git`);
  });
});
