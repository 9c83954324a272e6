/**
 * `npm run dist`: packages the built app (out/) for the platform it runs on, with the Electron binary that
 * electron-builder downloads. Windows and macOS targets need those platforms' tooling.
 *
 * What ships is only what runs: the three main-process entries, the preload and the renderer from out/, and the
 * runtime dependencies they import. Not shipped: the CLI's TypeScript loader (tsx, esbuild), the renderer's
 * libraries (bundled into out/renderer), source maps, WebGPU's Dawn binaries for other platforms, and the tfjs-node
 * bindings unless KILN_DIST_TFJS_NODE=1 says they were installed on purpose (they are optional dependencies, so
 * `npm install` fetches them where it can, and a CUDA build is large and machine-specific).
 *
 * Environment (for tests and CI): KILN_BUILD_OUT is where `electron-vite build` wrote (default out/).
 */
import path from 'node:path';

const buildOut = process.env.KILN_BUILD_OUT ? path.resolve(process.env.KILN_BUILD_OUT) : 'out';
const withTfjsNode = process.env.KILN_DIST_TFJS_NODE === '1';

/**
 * Everything of `webgpu/dist` but the folder of the platform being packaged (macOS ships one universal build).
 * A platform's own `files` made only of exclusions would make electron-builder add a match-all pattern (the whole project
 * folder) to them, hence the explicit package.json.
 */
const dawnOnlyFor = (folder) => ({ files: ['package.json', `!node_modules/webgpu/dist/!(${folder})/**`] });

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
    ...(withTfjsNode ? [] : ['!node_modules/@tensorflow/{tfjs-node,tfjs-node-gpu}/**']),
    { from: buildOut, to: 'out', filter: ['**/*', '!**/*.map'] },
  ],
  asarUnpack: [
    // Native and wasm payloads are loaded from real files: sharp and libvips, tfjs's wasm binaries and the
    // threaded build's scripts (worker threads open them by path), ONNX Runtime's, Dawn, tfjs-node.
    'node_modules/sharp/**/*',
    'node_modules/@img/**/*',
    'node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm',
    'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/**/*',
    // ONNX Runtime's wasm build (kiln predict on an .onnx export) and the scripts its threads load.
    'node_modules/onnxruntime-web/dist/ort-wasm-*',
    'node_modules/webgpu/dist/**/*',
    'node_modules/@tensorflow/tfjs-node*/**/*',
  ],
  extraMetadata: { main: 'out/main/index.js' },
  linux: {
    // The deb first: it installs an AppArmor profile, which Ubuntu 23.10+ needs for Chromium's sandbox.
    // The AppImage cannot (README: "Linux").
    target: ['deb', 'AppImage'],
    category: 'Science',
    maintainer: 'Kiln contributors',
    ...dawnOnlyFor('linux-${arch}'),
  },
  win: { target: ['nsis'], ...dawnOnlyFor('win32-${arch}') },
  nsis: { oneClick: false, allowToChangeInstallationDirectory: true },
  mac: { target: ['dmg'], category: 'public.app-category.developer-tools', ...dawnOnlyFor('darwin-universal') },
};
