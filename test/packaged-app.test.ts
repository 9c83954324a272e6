/**
 * The desktop app as electron-builder packages it, checked without the Electron binary (none can be downloaded
 * here): `electron-vite build` once, `electron-builder --dir` with a stand-in Electron folder, the app.asar listed,
 * then the package extracted and its built main process loaded under Node with a fake `electron` module
 * (fixtures/fake-electron), which forks the packaged trainer and job entries as utility processes would be.
 * One build and one package for every test here: both are slow.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../src-main/app/settings-store.ts';
import { encodePngRgb } from '../src-main/datasets/png-encode.ts';
import { RELEASES_PAGE } from '../src-main/common/project.ts';
import {
  FUSE_SENTINEL,
  ROOT,
  buildPackagedApp,
  diskSize,
  driveMain,
  readLogs,
  run,
  type PackagedApp,
  type Report,
} from './fixtures/packaged-app-harness.ts';

let pkg: PackagedApp;
let tmp: string;
let appDir: string;
let asarFile: string;
let listing: string[];

beforeAll(async () => {
  pkg = await buildPackagedApp();
  ({ tmp, appDir, asarFile, listing } = pkg);
}, 600_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the packaged app (electron-builder --dir, stand-in Electron)', () => {
  it('holds the three main entries, the CommonJS preload and the renderer', () => {
    console.log(`packaged-app: build + package took ${pkg.packageSeconds.toFixed(1)} s`);
    for (const f of [
      '/package.json',
      '/out/main/index.js',
      '/out/main/trainer-entry.js',
      '/out/main/job-entry.js',
      '/out/preload/index.cjs',
      '/out/preload/gpu-trainer.cjs',
      '/out/renderer/index.html',
      '/out/renderer/gpu-trainer.html',
    ]) {
      expect(listing, f).toContain(f);
    }
    expect(listing.some((f) => /^\/out\/renderer\/assets\/index-.*\.js$/.test(f))).toBe(true);
    expect(fs.readFileSync(path.join(appDir, 'out/preload/index.cjs'), 'utf8')).toMatch(/require\(["']electron["']\)/);
    expect(JSON.parse(fs.readFileSync(path.join(appDir, 'package.json'), 'utf8')).main).toBe('out/main/index.js');
  });

  it("unpacks sharp's wasm build, tfjs's wasm binaries, the threaded wasm scripts and ONNX Runtime's wasm build from the archive", () => {
    const unpacked = `${asarFile}.unpacked`;
    const mustExist = [
      'node_modules/sharp/package.json',
      // The build the job process decodes with in Electron on Linux (datasets/sharp-build.ts).
      'node_modules/@img/sharp-wasm32/index.cjs',
      'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm',
      'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js',
      'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js',
      'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm',
      'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.mjs',
    ];
    for (const f of mustExist) expect(fs.existsSync(path.join(unpacked, f)), f).toBe(true);
    expect(listing).toContain('/node_modules/onnxruntime-web/dist/ort.node.min.mjs');
  });

  it("leaves out tsx, esbuild, Dawn, tfjs-node, source maps and the project's sources", () => {
    const top = new Set(listing.map((f) => f.split('/')[1]));
    expect([...top].sort()).toEqual(['node_modules', 'out', 'package.json']);
    for (const dep of [
      'tsx',
      'esbuild',
      '@esbuild',
      'get-tsconfig',
      'chart.js',
      'electron',
      'vite',
      'vitest',
      'typescript',
      'svelte',
      'electron-builder',
      'webgpu',
    ]) {
      expect(
        listing.filter((f) => f.startsWith(`/node_modules/${dep}/`)),
        dep,
      ).toEqual([]);
    }
    expect(listing.filter((f) => f.startsWith('/node_modules/@tensorflow/tfjs-node'))).toEqual([]);
    expect(listing.filter((f) => f.endsWith('.map'))).toEqual([]);
  });

  it("ships no dead files: ONNX Runtime's browser builds, a second tfjs-backend-webgpu, native libvips on Linux", () => {
    const onnx = listing.filter((f) => f.startsWith('/node_modules/onnxruntime-web/') && !f.endsWith('/'));
    const onnxFiles = onnx
      .filter((f) => /\.[a-z]+$/.test(f.split('/').at(-1)!))
      .map((f) => f.replace('/node_modules/onnxruntime-web/', ''));
    expect(onnxFiles.filter((f) => f.startsWith('dist/')).sort()).toEqual([
      'dist/ort-wasm-simd-threaded.mjs',
      'dist/ort-wasm-simd-threaded.wasm',
      'dist/ort.node.min.mjs',
    ]);
    expect(onnxFiles.filter((f) => f.startsWith('lib/'))).toEqual([]);
    // tfjs-backend-webgpu is bundled into out/main; its node_modules copy would be a second one.
    expect(listing.filter((f) => f.startsWith('/node_modules/@tensorflow/tfjs-backend-webgpu/'))).toEqual([]);
    expect(listing.filter((f) => /^\/node_modules\/@img\/sharp-(libvips-)?linux/.test(f))).toEqual([]);
  });

  it('weighs at most 160 MB (app.asar and its unpacked files, linux)', () => {
    const asarBytes = diskSize(asarFile);
    const unpackedBytes = diskSize(`${asarFile}.unpacked`);
    console.log(`packaged-app: app.asar ${(asarBytes / 1e6).toFixed(1)} MB + unpacked ${(unpackedBytes / 1e6).toFixed(1)} MB`);
    expect(asarBytes + unpackedBytes).toBeLessThanOrEqual(160e6);
  });

  it('resolves the Linux and macOS configuration: FUSE3 AppImage runtime, deb homepage, maintainer and Depends, ad-hoc signing', () => {
    const { builder } = pkg;
    const { config } = builder;
    expect(config.toolsets?.appimage).toBe('1.0.3');
    // The deb's own checks passed ("Please specify project homepage", author e-mail) and fpm was to get these.
    const [fpmArgs] = builder.effective.find((e) => Array.isArray(e)) as [string[]];
    const arg = (name: string) => fpmArgs[fpmArgs.indexOf(name) + 1];
    expect(builder.homepage).toMatch(/^https:\/\//);
    expect(arg('--url')).toBe(builder.homepage);
    expect(arg('--maintainer')).toMatch(/^[^<>]+ <[^@\s]+@[^@\s]+\.[a-z]+>$/);
    for (const lib of ['libgbm1', 'libasound2', 'libnss3', 'libgtk-3-0', 'libxkbcommon0', 'libdrm2', 'xdg-utils']) {
      expect(
        config.deb?.depends?.some((d) => d.split(' | ').some((alt) => alt === lib || alt === `${lib}t64`)),
        lib,
      ).toBe(true);
    }
    expect(config.deb?.recommends).toContain('libvulkan1');
    // The AppImage's desktop entry was computed (its runtime is the toolset's, above).
    expect(builder.effective.some((e) => (e as { desktopFileName?: string }).desktopFileName === 'kiln.desktop')).toBe(true);
    // No Developer ID in this environment: ad hoc, no hardened runtime, no notarisation.
    expect(config.mac).toMatchObject({ identity: '-', hardenedRuntime: false, notarize: false });
  });

  it('signs with a Developer ID and notarises when the release environment provides them', async () => {
    const read = async (env: Record<string, string>) => {
      const code = `const c = (await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'electron-builder.config.mjs')).href)})).default; console.log(JSON.stringify(c.mac));`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], {
        env: { PATH: process.env.PATH ?? '', ...env },
      });
      return JSON.parse(stdout) as { identity?: string; hardenedRuntime: boolean; notarize: boolean };
    };
    const signed = await read({
      CSC_LINK: '/secrets/developer-id.p12',
      APPLE_API_KEY: '/secrets/key.p8',
      APPLE_API_KEY_ID: 'K',
      APPLE_API_ISSUER: 'I',
    });
    expect(signed.identity).toBeUndefined(); // electron-builder finds the Developer ID Application identity
    expect(signed).toMatchObject({ hardenedRuntime: true, notarize: true });
    expect(await read({ CSC_NAME: 'Kiln Developers (TEAMID)' })).toMatchObject({ hardenedRuntime: true, notarize: false });
  });

  it("flips Electron's fuses in the packaged binary: RunAsNode, NODE_OPTIONS and --inspect off, asar only and checked", () => {
    // The wire as Electron reads it: after the sentinel, a version byte, a length byte, then one '0'/'1' per fuse.
    const binary = fs.readFileSync(path.join(path.dirname(path.dirname(asarFile)), 'kiln'));
    const at = binary.indexOf(FUSE_SENTINEL) + FUSE_SENTINEL.length;
    expect(binary[at]).toBe(1);
    const wire = binary.subarray(at + 2, at + 2 + binary[at + 1]!).toString('latin1');
    // RunAsNode, EnableCookieEncryption, EnableNodeOptionsEnvironmentVariable, EnableNodeCliInspectArguments,
    // EnableEmbeddedAsarIntegrityValidation, OnlyLoadAppFromAsar, LoadBrowserProcessSpecificV8Snapshot, GrantFileProtocolExtraPrivileges.
    const fuse = (i: number) => wire[i];
    expect(fuse(0)).toBe('0');
    expect(fuse(2)).toBe('0');
    expect(fuse(3)).toBe('0');
    expect(fuse(4)).toBe('1');
    expect(fuse(5)).toBe('1');
    // Left as Electron ships it.
    expect(fuse(1)).toBe('0');
    expect(fuse(7)).toBe('1');
  });
});

describe('the packaged main process under a fake electron', () => {
  let home: string;
  let report: Report;
  let feed: http.Server;
  const feedRequests: string[] = [];
  afterAll(() => feed?.close());
  const garbage = '{"settings": {"theme": "dark",';

  beforeAll(async () => {
    home = path.join(tmp, 'home');
    fs.mkdirSync(home);
    // A settings file cut short, as a crash mid-write by another program or a hand edit leaves it.
    fs.writeFileSync(path.join(home, 'app-settings.json'), garbage);
    // A folder to import: two classes of four PNGs.
    const photos = path.join(tmp, 'photos');
    for (const [k, cls] of ['cats', 'dogs'].entries()) {
      fs.mkdirSync(path.join(photos, cls), { recursive: true });
      for (let i = 0; i < 4; i++)
        fs.writeFileSync(path.join(photos, cls, `${i}.png`), encodePngRgb(new Uint8Array(12 * 10 * 3).fill(40 * k + 10 * i), 12, 10));
    }
    // The releases feed: a newer version than this one.
    feed = http.createServer((req, res) => {
      feedRequests.push(req.headers['user-agent'] ?? '');
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ tag_name: 'v99.0.0', html_url: `${RELEASES_PAGE}/tag/v99.0.0` }));
    });
    await new Promise<void>((resolve) => feed.listen(0, '127.0.0.1', resolve));
    const feedUrl = `http://127.0.0.1:${(feed.address() as { port: number }).port}/releases/latest`;
    // The job process decodes with sharp's wasm build, as the app does in Electron on Linux.
    report = await driveMain(pkg, 'main', home, {
      FAKE_IMPORT_FOLDER: photos,
      KILN_SHARP_WASM: '1',
      KILN_UPDATE_CHECK: '1',
      KILN_UPDATE_FEED: feedUrl,
      FAKE_EXPECT_UPDATE: '1',
    });
    if (report.driverError) throw new Error(report.driverError);
  }, 300_000);

  it('opens one window on the packaged renderer with the preload, context isolation and the sandbox', () => {
    expect(report.dialogs).toEqual([]);
    expect(report.singleInstanceLock).toBe(true);
    const [win] = report.windows;
    expect(win.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true });
    expect(win.options.webPreferences.preload).toBe(path.join(appDir, 'out/preload/index.cjs'));
    expect(fs.existsSync(win.options.webPreferences.preload as string)).toBe(true);
    // ELECTRON_RENDERER_URL was set, and ignored: the packaged app loads its own files.
    expect(win.loadedURL).toBe(pathToFileURL(path.join(appDir, 'out/renderer/index.html')).href);
  });

  it('answers its own page only, on one IPC channel', () => {
    expect(report.ipcChannels).toHaveLength(1);
    expect(report.appInfo.result).toMatchObject({ home, electron: true });
    expect(report.fromDevServer.error?.name).toBe('ForbiddenError');
    expect(report.fromOtherFile.error?.name).toBe('ForbiddenError');
    // Same URL as the window's page, another frame: refused (the check is by frame, not by URL text).
    expect(report.fromIframe.error?.name).toBe('ForbiddenError');
  });

  it("drops development-only variables and keeps Chromium's data out of the Kiln home", () => {
    expect(report.devEnvLeft).toEqual([]);
    expect(report.setPaths.userData).toBe(path.join(tmp, 'cache-main', 'Kiln'));
    expect(path.relative(home, report.setPaths.userData).startsWith('..')).toBe(true);
  });

  it('keeps a corrupt settings file aside and starts with the default settings', () => {
    expect(report.settings.result).toEqual(DEFAULT_SETTINGS);
    const aside = fs.readdirSync(home).filter((f) => f.startsWith('app-settings.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(fs.readFileSync(path.join(home, aside[0]!), 'utf8')).toBe(garbage);
    const logs = readLogs(path.join(home, 'logs'));
    expect(logs).toContain(`kept it as ${path.join(home, aside[0]!)}`);
  });

  it("trains a GPU run with a hidden, sandboxed trainer page on Chromium's WebGPU; its renderer crashing fails the run, closes the page and leaves the app up", () => {
    const [win] = report.gpuWindows;
    expect(report.gpuWindows).toHaveLength(1);
    expect(win!.shown).toBe(false);
    expect(win!.options.webPreferences).toMatchObject({
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      backgroundThrottling: false,
    });
    expect(win!.options.webPreferences.preload).toBe(path.join(appDir, 'out/preload/gpu-trainer.cjs'));
    expect(fs.existsSync(win!.options.webPreferences.preload as string)).toBe(true);
    expect(win!.loadedURL).toBe(pathToFileURL(path.join(appDir, 'out/renderer/gpu-trainer.html')).href);
    expect(fs.readFileSync(path.join(appDir, 'out/renderer/gpu-trainer.html'), 'utf8')).toMatch(
      /<script type="module"[^>]*src="\.\/assets\/gpu-trainer-[^"]+\.js"/,
    );
    // The page got its port to the trainer, which owns the files.
    expect(report.gpu.pagePosts).toEqual([{ channel: 'kiln-gpu-port', ports: 1 }]);
    // Chromium's reason reaches the run's error, through the trainer that owns the record (no page runs here: it dies
    // before its hello).
    const why = 'the GPU trainer page went away (its renderer is gone: reason crashed, exit code 139)';
    expect(report.gpu.final).toMatchObject({ status: 'failed', error: { message: expect.stringContaining(why) } });
    expect(report.gpu.stored).toBe('failed');
    expect(report.gpu.storedError!.message).toContain(why);
    expect(win!.destroyed).toBe(true);
    // The app carried on: the second instance below still gets its window.
    expect(report.windowsAfterSecondInstance).toBe(1);
  });

  it("never loads Dawn for Node (dawn.node) in any process, the GPU run's trainer included", () => {
    const gpuTrainer = report.childNatives.find((c) => c.argv.includes('gpu-page'));
    expect(gpuTrainer, "the GPU run's trainer reported what it loaded").toBeDefined();
    for (const c of report.childNatives)
      expect(
        c.natives.filter((n) => /dawn|webgpu/i.test(n)),
        c.argv.join(' '),
      ).toEqual([]);
    expect(report.mainNativeModules.filter((n) => /dawn|webgpu/i.test(n))).toEqual([]);
  });

  it('forks the packaged trainer and job entries, and their results arrive', () => {
    const trainer = report.forks.filter((f) => f.modulePath === path.join(appDir, 'out/main/trainer-entry.js'));
    expect(trainer.map((f) => f.args)).toEqual([
      [home, report.run.runId],
      [home, report.lostDone.runId],
      [home, report.killed.runId],
      [home, report.gpu.runId, 'gpu-page'],
    ]);
    // Each process has a name of its own: Chromium's child-process-gone reports it by that name.
    const names = report.forks.map((f) => f.options.serviceName);
    expect(trainer[0]!.options.serviceName).toMatch(/^Kiln trainer \d+$/);
    expect(new Set(names).size).toBe(names.length);
    expect(report.lrFind.error).toBeUndefined();
    const jobs = report.forks.filter((f) => f.modulePath === path.join(appDir, 'out/main/job-entry.js'));
    expect(jobs.map((f) => f.args)).toEqual([[], []]);
    expect(report.run.statuses.map((s) => s.status)).toEqual(['running', 'finished']);
    expect(report.run.stored).toBe('finished');
    expect(report.run.epochs).toBe(1);
    expect(report.lrFind.error).toBeUndefined();
    const lr = report.lrFind.result as { points: { lr: number; loss: number }[] };
    expect(lr.points.length).toBeGreaterThan(1);
    expect(lr.points.every((p) => p.lr > 0 && Number.isFinite(p.loss))).toBe(true);
  });

  it("imports a folder in the packaged job entry, with sharp's wasm build, progress events and the dataset stored", () => {
    expect(report.import.last).toMatchObject({ phase: 'done', id: 'packaged-import' });
    expect(report.import.phases).toEqual(expect.arrayContaining(['scan', 'decode', 'write', 'done']));
    const counts = report.import.dataset!.classCounts;
    expect([...counts.train, ...counts.val].reduce((a, b) => a + b, 0)).toBe(8);
    const jobs = report.forks.filter((f) => f.modulePath === path.join(appDir, 'out/main/job-entry.js'));
    expect(jobs).toHaveLength(2);
    for (const t of report.thumbnails) expect((t.result as { png: string }).png).toMatch(/^iVBORw0KGgo/); // a PNG's signature, base64
    // Thumbnails were served and a folder imported, yet the main process never loaded sharp or any native module.
    expect(report.mainNativeModules).toEqual([]);
  });

  it('keeps the status the trainer stored when its last message is lost', () => {
    expect(report.lostDone.statuses.map((s) => s.status)).toEqual(['running', 'finished']);
    expect(report.lostDone.stored).toBe('finished');
    expect(report.lostDone.storedError).toBeUndefined();
  });

  it("records why a trainer the OS killed stopped: Chromium's reason, the exit code and its last stderr lines, in the run and in logs/", () => {
    const { killed } = report;
    expect(killed.final.status).toBe('failed');
    expect(killed.stored).toBe('failed');
    // The OS's SIGKILL is most often its out-of-memory killer: said so, with the model's estimate.
    expect(killed.storedError?.name).toBe('OutOfMemoryError');
    expect(killed.storedError?.message).toContain('was killed, most likely because it ran out of memory (reason killed, exit code 137)');
    expect(killed.storedError?.message).toContain('training it needs about');
    expect(killed.storedError?.message).toContain(killed.lastWords);
    const logs = readLogs(path.join(home, 'logs'));
    expect(logs).toMatch(/WARN\s+Utility process "Kiln trainer \d+" is gone: reason killed, exit code 137/);
    expect(logs).toMatch(
      new RegExp(
        `ERROR run ${killed.runId}: the trainer of run ${killed.runId} was killed, most likely because it ran out of memory \\(reason killed, exit code 137\\)`,
      ),
    );
    expect(logs).toContain(`last lines on stderr:\n    ${killed.lastWords}`);
  });

  it('logs a crashed window page and reloads it once', () => {
    expect(report.pageReloads).toBe(1);
    const logs = readLogs(path.join(home, 'logs'));
    expect(logs).toContain("the window's renderer is gone: reason crashed, exit code 139; reloading it");
    expect(logs).toContain("the window's renderer is gone: reason crashed, exit code 139\n");
  });

  it('checks the releases feed once, in the background, and tells the window of a newer version', () => {
    expect(feedRequests).toEqual([`Kiln/${JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}`]);
    expect(report.updateNotices).toEqual([{ version: '99.0.0', url: `${RELEASES_PAGE}/tag/v99.0.0` }]);
    const logs = readLogs(path.join(home, 'logs'));
    expect(logs).toContain('Kiln 99.0.0 is available');
  });

  it('opens a new window for a second instance once the first window is gone', () => {
    expect(report.windowsAfterSecondInstance).toBe(1);
    expect(report.windows).toHaveLength(2);
  });
});

describe('a packaged main process that cannot start', () => {
  it('shows the error in a dialog, logs it outside the unusable home and exits', async () => {
    // A home under a regular file cannot be created, whoever runs the test (root included).
    const blocker = path.join(tmp, 'not-a-folder');
    fs.writeFileSync(blocker, '');
    const home = path.join(blocker, 'home');
    const report = await driveMain(pkg, 'fail', home);
    expect(report.driverError).toBeUndefined();
    expect(report.windows).toEqual([]);
    expect(report.exitCode).toBe(1);
    expect(report.dialogs).toHaveLength(1);
    expect(report.dialogs[0]).toMatchObject({ kind: 'error', title: 'Kiln could not start' });
    expect(report.dialogs[0]!.content).toMatch(/ENOTDIR|not a directory/);
    const logDir = path.join(tmp, 'cache-fail', 'Kiln', 'logs');
    const log = readLogs(logDir);
    expect(log).toContain(`Kiln could not start (home ${home})`);
  }, 120_000);
});
