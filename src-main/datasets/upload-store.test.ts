import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkRelativePath, MAX_OPEN_UPLOADS, UploadStore } from './upload-store.ts';

describe('UploadStore', () => {
  let home: string;
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-upload-'));
  });
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

  it('writes chunks in order under the home, names the single top folder, and removes it', async () => {
    const store = new UploadStore(home, 1000);
    const { uploadId } = await store.begin(2, 9);
    await store.write(uploadId, 'pets/cats/a.png', 0, Buffer.from('abc'));
    await store.write(uploadId, 'pets/cats/a.png', 3, Buffer.from('def'));
    await store.write(uploadId, 'pets/dogs/b.png', 0, Buffer.from('xyz'));
    const done = await store.finish(uploadId);
    expect(done.name).toBe('pets');
    expect(done.files).toBe(2);
    expect(done.bytes).toBe(9);
    expect(done.folder.startsWith(path.join(home, 'tmp', 'uploads'))).toBe(true);
    expect(fs.readFileSync(path.join(done.folder, 'cats', 'a.png'), 'utf8')).toBe('abcdef');
    await store.remove(uploadId);
    expect(fs.readdirSync(store.root)).toEqual([]);
  });

  it('refuses what is over the cap, out of order, undeclared or outside the upload', async () => {
    const store = new UploadStore(home, 10);
    await expect(store.begin(1, 11)).rejects.toThrow(/over the limit/);
    const { uploadId } = await store.begin(1, 4);
    await expect(store.write(uploadId, 'a/b.png', 2, Buffer.from('x'))).rejects.toThrow(/expected 0/);
    await store.write(uploadId, 'a/b.png', 0, Buffer.from('xy'));
    await expect(store.write(uploadId, 'a/b.png', 2, Buffer.from('xyz'))).rejects.toThrow(/4 bytes declared/);
    await expect(store.write(uploadId, 'a/c.png', 0, Buffer.from('x'))).rejects.toThrow(/1 declared/);
    for (const bad of ['../x.png', '/etc/passwd', 'a//b', 'a/./b', 'a\\..\\b', 'c:x']) {
      expect(() => checkRelativePath(bad), bad).toThrow(/upload path/);
    }
    await expect(store.write('upload-0000000000000000', 'a.png', 0, Buffer.from('x'))).rejects.toThrow(/no open upload/);
    await store.remove(uploadId);
    await expect(store.write(uploadId, 'a/b.png', 2, Buffer.from('x'))).rejects.toThrow(/no open upload/);
  });

  it("limits open uploads; a dead owner's leftovers are swept, a live one's are not", async () => {
    const store = new UploadStore(home, 100);
    for (let i = 0; i < MAX_OPEN_UPLOADS; i++) await store.begin(1, 1);
    await expect(store.begin(1, 1)).rejects.toThrow(/open already/);
    const [owner] = fs.readdirSync(store.root);
    expect(fs.readdirSync(path.join(store.root, owner!)).filter((n) => n.startsWith('upload-')).length).toBe(MAX_OPEN_UPLOADS);
    // A process that died mid-upload: its lock names a pid that is gone.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const deadDir = path.join(store.root, `${dead}-x`);
    fs.mkdirSync(path.join(deadDir, 'upload-0123456789abcdef'), { recursive: true });
    fs.writeFileSync(
      path.join(deadDir, 'owner.lock'),
      JSON.stringify({ pid: dead, hostname: os.hostname(), startedAt: new Date().toISOString() }),
    );
    // An older Kiln's folder, without an owner, from an hour ago.
    const old = path.join(store.root, 'upload-fedcba9876543210');
    fs.mkdirSync(old);
    const hourAgo = new Date(Date.now() - 3600_000);
    fs.utimesSync(old, hourAgo, hourAgo);
    await new UploadStore(home).sweep();
    expect(fs.readdirSync(store.root)).toEqual([owner]);
    await store.close();
    expect(fs.readdirSync(store.root)).toEqual([]);
  });

  it("a second Kiln on the same home leaves the first one's upload whole (M1)", async () => {
    const a = new UploadStore(home, 1000);
    const { uploadId } = await a.begin(1, 200);
    await a.write(uploadId, 'c/x.png', 0, Buffer.alloc(100, 1));
    const b = new UploadStore(home, 1000);
    await b.sweep();
    await b.begin(1, 10);
    await a.write(uploadId, 'c/x.png', 100, Buffer.alloc(100, 2));
    const done = await a.finish(uploadId);
    expect(fs.statSync(path.join(done.folder, 'x.png')).size).toBe(200);
    await Promise.all([a.close(), b.close()]);
  });

  it('a chunk for a file removed under the upload fails instead of starting the file again', async () => {
    const store = new UploadStore(home, 1000);
    const { uploadId } = await store.begin(1, 200);
    await store.write(uploadId, 'c/x.png', 0, Buffer.alloc(100));
    const [owner] = fs.readdirSync(store.root);
    fs.rmSync(path.join(store.root, owner!, uploadId, 'c', 'x.png'));
    await expect(store.write(uploadId, 'c/x.png', 100, Buffer.alloc(100))).rejects.toThrow(/removed from the disk/);
    await store.close();
  });

  it('drops uploads left idle, and abandons only those still being sent (M2)', async () => {
    const store = new UploadStore(home, { maxBytes: 100, idleMs: 150 });
    const ids: string[] = [];
    for (let i = 0; i < MAX_OPEN_UPLOADS; i++) ids.push((await store.begin(1, 1)).uploadId);
    await new Promise((r) => setTimeout(r, 400));
    await expect(store.write(ids[0]!, 'a.png', 0, Buffer.from('x'))).rejects.toThrow(/left idle/);
    const importing = (await store.begin(1, 1)).uploadId;
    await store.write(importing, 'a.png', 0, Buffer.from('x'));
    const sending = (await store.begin(1, 1)).uploadId;
    const { folder } = await store.finish(importing);
    expect(await store.abandon([importing, sending])).toEqual([sending]);
    expect(fs.readFileSync(path.join(folder, 'a.png'), 'utf8')).toBe('x');
    await expect(store.write(sending, 'a.png', 0, Buffer.from('x'))).rejects.toThrow(/no open upload/);
    await store.remove(importing);
    expect(fs.readdirSync(store.root)).toEqual([]);
  });
});
