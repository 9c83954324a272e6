import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { moveGlobalFlags } from '../src-main/cli/main.ts';
import { closest } from '../src-main/cli/args.ts';
import { cliInProcess } from './fixtures/cli-in-process.ts';

/** The command line as a newcomer meets it: options where they put them, typos, ids that do not exist. */

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-cli-polish-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

function kiln(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return cliInProcess(args);
}

describe('kiln command line', () => {
  it('takes the common options before the command as well as after it', async () => {
    expect(moveGlobalFlags(['--home', '/h', '--json', 'runs', 'list'])).toEqual(['runs', 'list', '--home', '/h', '--json']);
    expect(moveGlobalFlags(['--home=/h', 'dataset', 'list'])).toEqual(['dataset', 'list', '--home=/h']);
    expect(moveGlobalFlags(['train', '--home', '/h'])).toEqual(['train', '--home', '/h']);
    const before = await kiln('--home', home, '--json', 'dataset', 'list');
    const after = await kiln('dataset', 'list', '--home', home, '--json');
    expect(before.code).toBe(0);
    expect(before.stdout).toBe(after.stdout);
    expect(JSON.parse(before.stdout).map((d: { id: string }) => d.id)).toEqual(['synthetic']);
  });

  it('suggests the closest command, subcommand or option, and points to --help', async () => {
    expect(closest('tran', ['train', 'runs'])).toBe('train');
    expect(closest('xyzzy', ['train', 'runs'])).toBeUndefined();
    const cases: [string[], string | RegExp][] = [
      [['tran'], 'kiln: unknown command "tran"; did you mean train? (kiln --help lists the commands)'],
      [['train', '--epoch', '3'], 'kiln: unknown option --epoch; did you mean --epochs? (kiln train --help lists the options)'],
      [
        ['dataset', 'lst', '--home', home],
        'kiln: unknown dataset command "lst"; expected one of: download, import, list, show, rm, rename; did you mean list?',
      ],
      [['runs', 'shwo', '--home', home], /^kiln: runs: unknown subcommand "shwo"; expected one of: list, show, .*; did you mean show\?$/],
      [['arch', 'lsit'], 'kiln: arch: unknown subcommand "lsit"; expected list or show; did you mean list?'],
      [['serve', '--prot', '0'], 'kiln: unknown option --prot; did you mean --port? (kiln serve --help lists the options)'],
    ];
    for (const [args, message] of cases) {
      const r = await kiln(...args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      if (typeof message === 'string') expect(r.stderr).toBe(message);
      else expect(r.stderr).toMatch(message);
    }
  });

  it('says which command lists what was not found', async () => {
    const run = await kiln('runs', 'show', '20990101-000000-none', '--home', home);
    expect(run).toMatchObject({
      code: 2,
      stderr: `kiln: no run "20990101-000000-none" in ${path.join(home, 'runs')}; \`kiln runs list\` shows what there is`,
    });
    const data = await kiln('train', '--dataset', 'holiday-photos', '--home', home);
    expect(data).toMatchObject({
      code: 2,
      stderr: `kiln: no dataset "holiday-photos" in ${path.join(home, 'datasets')}; \`kiln dataset list\` shows what there is`,
    });
  });

  it('prints tables with headers', async () => {
    const show = await kiln('arch', 'show', 'resnet-9-s');
    const lines = show.stdout.split('\n');
    expect(lines[0]).toMatch(/^LAYER\s+OUTPUT \(H×W×C\)\s+PARAMS$/);
    expect(lines[1]).toMatch(/^input\s+32×32×3\s+0$/);
    expect((await kiln('arch', 'list')).stdout.split('\n')[0]).toMatch(/^PRESET\s+PARAMS\s+GFLOPS\/IMAGE \(32×32\)\s+TITLE$/);
  });
});
