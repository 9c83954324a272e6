/**
 * `npm run dist`: packages the built app (out/) for the platform it runs on, with the Electron binary that
 * electron-builder downloads. Windows and macOS targets need those platforms' tooling.
 *
 * What ships is only what runs: the three main-process entries, the preload and the renderer from out/, and the
 * runtime dependencies they import, less the files of those that nothing loads. Not shipped: the CLI's TypeScript
 * loader (tsx, esbuild), the renderer's libraries (bundled into out/renderer), source maps, ONNX Runtime's browser
 * builds (Node loads ort.node.min.mjs and the plain wasm build only), the node_modules copy of
 * tfjs-backend-webgpu (electron-vite bundles it into out/main), Dawn for Node (Electron's memory cage forbids it
 * in every Electron process: GPU training uses Chromium's WebGPU), sharp's native libvips on Linux (the app
 * forces sharp's wasm build there, datasets/sharp-build.ts), and the tfjs-node bindings unless
 * KILN_DIST_TFJS_NODE=1 says they were installed on purpose (they are optional dependencies, so `npm install`
 * fetches them where it can, and a CUDA build is large and machine-specific).
 *
 * Signing. macOS: a release environment that provides a Developer ID certificate (CSC_LINK or CSC_NAME) signs
 * with it, with the hardened runtime, and notarises when it also provides notary credentials (APPLE_API_KEY +
 * APPLE_API_KEY_ID + APPLE_API_ISSUER, or APPLE_ID + APPLE_APP_SPECIFIC_PASSWORD + APPLE_TEAM_ID, or
 * APPLE_KEYCHAIN_PROFILE); otherwise the app is signed ad hoc (identity "-"), without which Apple Silicon
 * refuses it as "damaged". Windows signs when CSC_LINK / WIN_CSC_LINK is set (electron-builder's default).
 *
 * Environment (for tests and CI): KILN_BUILD_OUT is where `electron-vite build` wrote (default out/).
 */
import fs from 'node:fs';
import path from 'node:path';

const buildOut = process.env.KILN_BUILD_OUT ? path.resolve(process.env.KILN_BUILD_OUT) : 'out';
const withTfjsNode = process.env.KILN_DIST_TFJS_NODE === '1';
const pkg = JSON.parse(fs.readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

const env = (...names) => names.every((n) => Boolean(process.env[n]));
const developerId = env('CSC_LINK') || env('CSC_NAME');
const notaryCredentials =
  env('APPLE_API_KEY', 'APPLE_API_KEY_ID', 'APPLE_API_ISSUER') ||
  env('APPLE_ID', 'APPLE_APP_SPECIFIC_PASSWORD', 'APPLE_TEAM_ID') ||
  env('APPLE_KEYCHAIN_PROFILE');

/**
 * What Electron's Linux binary links against (its ELF NEEDED entries, as Chrome's own deb lists them), for
 * minimal installs too (no libgbm1 or libasound2 there). Debian 13 and Ubuntu 24.04 renamed several libraries in
 * the 64-bit time_t transition (…t64): each such dependency names both.
 */
const DEB_DEPENDS = [
  'libasound2t64 | libasound2',
  'libatk-bridge2.0-0t64 | libatk-bridge2.0-0',
  'libatk1.0-0t64 | libatk1.0-0',
  'libatspi2.0-0t64 | libatspi2.0-0',
  'libc6',
  'libcairo2',
  'libcups2t64 | libcups2',
  'libdbus-1-3',
  'libdrm2',
  'libexpat1',
  'libgbm1',
  'libglib2.0-0t64 | libglib2.0-0',
  'libgtk-3-0t64 | libgtk-3-0',
  'libnotify4',
  'libnspr4',
  'libnss3',
  'libpango-1.0-0',
  'libsecret-1-0',
  'libudev1',
  'libuuid1',
  'libx11-6',
  'libxcb1',
  'libxcomposite1',
  'libxdamage1',
  'libxext6',
  'libxfixes3',
  'libxkbcommon0',
  'libxrandr2',
  'libxss1',
  'libxtst6',
  'xdg-utils',
];

/** @type {import('electron-builder').Configuration} */
export default {
  appId: 'dev.kiln.workbench',
  productName: 'Kiln',
  copyright: 'Kiln contributors',
  directories: { output: 'dist', buildResources: 'resources' },
  // Native modules ship as their prebuilt binaries (sharp's @img packages, Dawn); rebuilding them against
  // Electron's headers is slow, needs a compiler and breaks tfjs-node's own install step.
  npmRebuild: false,
  nodeGypRebuild: false,
  buildDependenciesFromSource: false,
  files: [
    // The project folder's own files first: electron-builder adds its default exclusions to the first file set only.
    'package.json',
    '!**/*.map',
    '!**/*.d.ts',
    '!node_modules/{tsx,esbuild,@esbuild,get-tsconfig,resolve-pkg-maps}/**',
    '!node_modules/{chart.js,@kurkle}/**',
    // Bundled into out/main (a literal import in engine/backend/webgpu.ts); Dawn for Node never runs in Electron.
    '!node_modules/@tensorflow/tfjs-backend-webgpu/**',
    '!node_modules/webgpu/**',
    // ONNX Runtime in Node: its package.json, dist/ort.node.min.mjs and the plain threaded-SIMD wasm build it loads.
    '!node_modules/onnxruntime-web/{lib,docs}/**',
    '!node_modules/onnxruntime-web/dist/!(ort.node.min.mjs|ort-wasm-simd-threaded.mjs|ort-wasm-simd-threaded.wasm)',
    ...(withTfjsNode ? [] : ['!node_modules/@tensorflow/{tfjs-node,tfjs-node-gpu}/**']),
    { from: buildOut, to: 'out', filter: ['**/*', '!**/*.map'] },
  ],
  asarUnpack: [
    // Native and wasm payloads are loaded from real files: sharp and libvips, tfjs's wasm binaries and the
    // threaded build's scripts (worker threads open them by path), ONNX Runtime's, tfjs-node.
    'node_modules/sharp/**/*',
    'node_modules/@img/**/*',
    'node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm',
    'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/**/*',
    // ONNX Runtime's wasm build (kiln predict on an .onnx export) and the scripts its threads load.
    'node_modules/onnxruntime-web/dist/ort-wasm-*',
    'node_modules/@tensorflow/tfjs-node*/**/*',
  ],
  // desktopName: the app id / WM_CLASS Electron reports on Linux, so desktops link its windows to kiln.desktop.
  extraMetadata: { main: 'out/main/index.js', desktopName: 'kiln.desktop' },
  /**
   * Electron's fuses, flipped in the packaged binary: no running it as plain Node (ELECTRON_RUN_AS_NODE), no
   * NODE_OPTIONS or --inspect from outside, the app only from its archive, and the archive checked against the
   * hash embedded at packaging where Electron supports that (macOS and Windows; the fuse is inert on Linux).
   */
  electronFuses: {
    runAsNode: false,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
  },
  linux: {
    // The deb first: it installs an AppArmor profile, which Ubuntu 23.10+ needs for Chromium's sandbox.
    // The AppImage cannot (README: "Linux").
    target: ['deb', 'AppImage'],
    category: 'Science',
    maintainer: `${pkg.author.name} <${pkg.author.email}>`,
    // Only sharp's wasm build runs in Electron on Linux: its native binding and libvips stay out.
    files: ['package.json', '!node_modules/@img/sharp-{linux,linuxmusl,libvips-linux,libvips-linuxmusl}-*/**'],
  },
  deb: {
    depends: DEB_DEPENDS,
    // WebGPU (GPU training in the app) needs a Vulkan loader on Linux; the app falls back to the CPU without one.
    recommends: ['libvulkan1'],
  },
  /**
   * The static AppImage runtime (FUSE3, or none): the legacy toolset's runtime needs libfuse.so.2, which Ubuntu
   * 22.04+, Fedora and Arch no longer install ("AppImages require FUSE to run").
   */
  toolsets: { appimage: '1.0.3' },
  win: { target: ['nsis'] },
  nsis: { oneClick: false, allowToChangeInstallationDirectory: true },
  mac: {
    target: ['dmg'],
    category: 'public.app-category.developer-tools',
    // Developer ID when the release environment has one (found by electron-builder), else ad hoc.
    identity: developerId ? undefined : '-',
    // Required for notarisation; an ad-hoc signature with it would need library validation off, so only with an identity.
    hardenedRuntime: developerId,
    notarize: developerId && notaryCredentials,
  },
};
