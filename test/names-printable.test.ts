import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { assertValidName } from '../src-main/datasets/dataset-id.ts';
import { scanFolder } from '../src-main/datasets/scan-folder.ts';
import { archFileStem } from '../src-main/app/custom-archs.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';

const scratch = tempHome();
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Names with terminal escapes (Cc) or bidi overrides (Cf) never print raw. */
describe('dataset and class names', () => {
  it('dataset names with control or format characters are refused, with the character written out', () => {
    for (const bad of ['\x1b[31mred', 'cats\u202Egpj.exe', 'a\u2066b', 'tab\there', 'soft\u00ADhyphen']) {
      expect(() => assertValidName(bad), JSON.stringify(bad)).toThrow(/control or invisible formatting characters/);
    }
    try {
      assertValidName('cats\u202Egpj');
    } catch (err) {
      expect((err as Error).message).toContain('cats\\u{202E}gpj');
      expect((err as Error).message).not.toContain('\u202E');
    }
    // Joiners in emoji sequences are ordinary text.
    expect(() => assertValidName('👩‍💻 coders')).not.toThrow();
    expect(() => archFileStem('net\u202Eevil')).toThrow(/printable/);
  });

  it('class folders named with escapes or overrides import under a written-out name', async () => {
    const folder = path.join(scratch, 'odd');
    const names = ['\x1b[2Jdogs', 'cats\u202Egpj', 'plain'];
    for (const n of names) {
      fs.mkdirSync(path.join(folder, n), { recursive: true });
      await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 1, g: 2, b: 3 } } })
        .png()
        .toFile(path.join(folder, n, 'a.png'));
    }
    const scan = await scanFolder(folder);
    expect(scan.classes.sort()).toEqual(['\\u{001B}[2Jdogs', 'cats\\u{202E}gpj', 'plain'].sort());
    expect(scan.files).toHaveLength(3);
  });
});
