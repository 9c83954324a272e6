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
    expect(fs.existsSync(path.join(store.root, uploadId))).toBe(false);
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

  it('limits open uploads and sweeps leftovers', async () => {
    const store = new UploadStore(home, 100);
    for (let i = 0; i < MAX_OPEN_UPLOADS; i++) await store.begin(1, 1);
    await expect(store.begin(1, 1)).rejects.toThrow(/open already/);
    expect(fs.readdirSync(store.root).length).toBe(MAX_OPEN_UPLOADS);
    await new UploadStore(home).sweep();
    expect(fs.existsSync(store.root)).toBe(false);
  });
});
