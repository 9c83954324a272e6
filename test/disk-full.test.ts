/**
 * A really full disk: the Kiln home is a 16 MiB tmpfs, and once a real trainer process has written its first epoch's
 * checkpoint the test fills every byte left. The next epoch's writes fail with ENOSPC; the run must still end
 * recorded `failed` with a disk-full error (the trainer frees the space reserve, runs/space-reserve.ts, to write
 * that), its last good checkpoint intact. Mounting needs root (CI runs as root); skipped where it is refused.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mergeRunConfig } from '../src-shared/run-config.ts';
import type { TrainerMessage } from '../src-shared/trainer-protocol.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import { resolveCheckpoint } from '../src-main/engine/train/checkpoint.ts';
import { createRun } from '../src-main/training/create-run.ts';
import { TrainerHandle } from '../src-main/training/trainer-client.ts';
import { TINY_WASM_RUN } from './fixtures/runs-fixtures.ts';
import { PROCESS_TEST_TIMEOUT } from './fixtures/kiln-process.ts';

vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT });

const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-full-disk-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt], { stdio: 'ignore' });
  mounted = true;
} catch {
  /* not root, or no tmpfs: skipped */
}

afterAll(() => {
  if (mounted) execFileSync('umount', [mnt]);
  fs.rmSync(mnt, { recursive: true, force: true });
});

/** Writes until the file system refuses: a big file, then small ones for the last blocks. */
function fillDisk(dir: string): void {
  const chunk = Buffer.alloc(256 * 1024, 1);
  const fd = fs.openSync(path.join(dir, 'filler'), 'w');
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  for (let i = 0; ; i++) {
    try {
      fs.writeFileSync(path.join(dir, `filler-${i}`), Buffer.alloc(512, 1));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      return;
    }
  }
}

describe.skipIf(!mounted)('a full disk under a real trainer', () => {
  const home = path.join(mnt, 'home');
  let store: RunStore;
  beforeAll(() => {
    store = new RunStore(home);
  });

  it('records the run failed with a disk-full error, its last good checkpoint intact', async () => {
    const run = await createRun(home, mergeRunConfig(TINY_WASM_RUN, { data: { limitTrain: 256 }, opt: { epochs: 4 } }));
    const handle = new TrainerHandle(home, run.id);
    const messages: TrainerMessage[] = [];
    let filled = false;
    handle.on('message', (m: TrainerMessage) => {
      messages.push(m);
      if (m.type === 'checkpoint' && !filled) {
        filled = true;
        fillDisk(mnt);
      }
    });
    const { outcome } = await handle.done;
    expect(filled).toBe(true);
    expect(outcome).toBe('failed');
    const record = await store.get(run.id);
    expect(record.status).toBe('failed');
    expect(record.error?.message, JSON.stringify(record.error)).toMatch(/disk full|disk is full/);
    expect(messages.find((m) => m.type === 'error')).toBeDefined();
    // The epoch checkpoint written before the disk filled is still there to resume from.
    const latest = resolveCheckpoint(path.join(store.checkpointDir(run.id), 'latest'));
    expect(latest).not.toBeNull();
  });
});
