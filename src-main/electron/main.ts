/**
 * The Electron main process: one window on the built renderer, the Kiln services behind the KilnApi
 * contract on a fixed IPC channel, trainers in utility processes. Everything else lives in
 * src-main/app (shared with `kiln serve`); this file only wires Electron to it.
 */
import path from 'node:path';
import { contentSecurityPolicy } from '../common/csp.ts';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  MessageChannelMain,
  net,
  screen,
  session,
  shell,
  utilityProcess,
  type MenuItemConstructorOptions,
} from 'electron';
import Store from 'electron-store';
import { resolveHome } from '../common/home.ts';
import { createKilnServices, type KilnServices } from '../app/kiln-services.ts';
import { createJobRunner } from '../app/job-runner.ts';
import { DEFAULT_SETTINGS } from '../app/settings-store.ts';
import { DailyLog } from '../app/daily-log.ts';
import { chromiumDataDirFor, openRecovering, stripDevEnv, trustSystemCertificates } from './app-setup.ts';
import { ElectronSettingsStore, type AppStoreData, type WindowBounds } from './electron-settings.ts';
import { appMainFrames, ipcEmitter, registerKilnIpc } from './register-ipc.ts';
import { utilityTransport } from './utility-transport.ts';
import { gpuTrainerTransport, trainerRouter } from './gpu-trainer-transport.ts';
import { RunStore } from '../runs/run-store.ts';
import { ProcessGoneLog } from './process-gone.ts';
import { scheduleUpdateCheck } from '../app/update-check.ts';
import { RELEASES_FEED, RELEASES_PAGE } from '../common/project.ts';
import { KILN_VERSION } from '../common/version.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
// Built layout (electron-vite): out/main/{index,trainer-entry,job-entry}.js, out/preload/index.cjs, out/renderer/.
const PRELOAD = path.join(here, '../preload/index.cjs');
// The hidden window that trains GPU runs on Chromium's WebGPU, and its preload (gpu-trainer-transport.ts).
const GPU_TRAINER_URL = pathToFileURL(path.join(here, '../renderer/gpu-trainer.html')).href;
const GPU_TRAINER_PRELOAD = path.join(here, '../preload/gpu-trainer.cjs');
const CSP = contentSecurityPolicy("'self'");

// Test hooks and the dev server's address mean nothing to an installed app; children inherit what is left.
if (app.isPackaged) stripDevEnv();
const RENDERER_URL =
  (!app.isPackaged && process.env.ELECTRON_RENDERER_URL) || pathToFileURL(path.join(here, '../renderer/index.html')).href;

const home = resolveHome();
// The Kiln home holds datasets, runs, logs and the settings; Chromium's profile and caches go elsewhere.
const chromiumDir = chromiumDataDirFor(home);
app.setName('Kiln');
app.setPath('userData', chromiumDir);
// Where start-up failures are written when the home itself is the problem.
const fallbackLog = new DailyLog(chromiumDir);

let store: Store<AppStoreData> | undefined;
let services: KilnServices | undefined;
let mainWindow: BrowserWindow | undefined;
// The app's own windows: only their main frames may call the services.
const appWindows = new Set<BrowserWindow>();
// Abnormal ends of child processes, logged in the Kiln home (set once the home is known to be usable).
let goneLog: ProcessGoneLog | undefined;
let updates: { latest(): { version: string; url: string } | undefined } | undefined;
app.on('child-process-gone', (_event, details) => goneLog?.childGone(details));

/** electron-store throws on a file it cannot parse; the file is kept aside and the app starts with defaults. */
function openStore(log: DailyLog): Store<AppStoreData> {
  const file = path.join(home, 'app-settings.json');
  const opened = openRecovering(file, () => {
    const s = new Store<AppStoreData>({ name: 'app-settings', cwd: home, defaults: { settings: DEFAULT_SETTINGS } });
    void s.store;
    return s;
  });
  if (opened.keptAside)
    log.warn(`${file} could not be read; kept it as ${opened.keptAside} and started with default settings`, opened.error);
  return opened.value;
}

function restoredBounds(): WindowBounds {
  const saved = store?.get('windowBounds');
  const fallback = { width: 1280, height: 800, maximized: false };
  if (!saved) return fallback;
  // A window saved on a display that is gone would open off-screen.
  const area = screen.getDisplayMatching({ x: saved.x ?? 0, y: saved.y ?? 0, width: saved.width, height: saved.height }).workArea;
  const visible =
    saved.x !== undefined &&
    saved.y !== undefined &&
    saved.x < area.x + area.width &&
    saved.y < area.y + area.height &&
    saved.x + saved.width > area.x &&
    saved.y + saved.height > area.y;
  return visible ? saved : { ...fallback, width: Math.min(saved.width, area.width), height: Math.min(saved.height, area.height) };
}

function createWindow(): BrowserWindow {
  const bounds = restoredBounds();
  const win = new BrowserWindow({
    ...(bounds.x !== undefined && bounds.y !== undefined ? { x: bounds.x, y: bounds.y } : {}),
    width: bounds.width,
    height: bounds.height,
    minWidth: 1024,
    minHeight: 640,
    title: 'Kiln',
    show: false,
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  appWindows.add(win);
  if (bounds.maximized) win.maximize();
  win.once('ready-to-show', () => win.show());
  // A window opened after the update check answered still hears of it.
  win.webContents.on('did-finish-load', () => {
    const notice = updates?.latest();
    if (notice) ipcEmitter(() => [win.webContents])('appUpdate', notice);
  });
  win.on('close', () => store?.set('windowBounds', { ...win.getNormalBounds(), maximized: win.isMaximized() }));
  win.on('closed', () => {
    appWindows.delete(win);
    if (mainWindow === win) mainWindow = undefined;
  });
  // A crashed or killed page is logged and reloaded once; a page that dies again within a minute stays down.
  let lastReload = 0;
  win.webContents.on('render-process-gone', (_event, details) => {
    const again = Date.now() - lastReload < 60_000;
    (services?.log ?? fallbackLog).error(
      `the window's renderer is gone: reason ${details.reason}, exit code ${details.exitCode}${again ? '' : '; reloading it'}`,
    );
    if (again || details.reason === 'clean-exit' || win.isDestroyed()) return;
    lastReload = Date.now();
    win.webContents.reload();
  });
  void win.loadURL(RENDERER_URL);
  return win;
}

function buildMenu(): void {
  const logs = path.join(home, 'logs');
  const template: MenuItemConstructorOptions[] = [
    ...(process.platform === 'darwin' ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Open Logs Folder', click: () => void shell.openPath(logs) },
        { label: 'Open Kiln Home Folder', click: () => void shell.openPath(home) },
        { type: 'separator' },
        process.platform === 'darwin' ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        { role: 'reload' },
        { role: 'toggleDevTools' },
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

function lockDown(): void {
  // A header as well as the page's meta tag, for the dev server's responses.
  session.defaultSession.webRequest.onHeadersReceived((details, callback) =>
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } }),
  );
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-navigate', (event, url) => {
      if (url !== contents.getURL()) event.preventDefault();
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
    // No new windows; the project's release pages (the update notice's link) open in the system browser.
    contents.setWindowOpenHandler(({ url }) => {
      if (url === RELEASES_PAGE || url.startsWith(`${RELEASES_PAGE}/`)) void shell.openExternal(url);
      return { action: 'deny' };
    });
  });
}

async function start(): Promise<void> {
  lockDown();
  buildMenu();
  const startLog = new DailyLog(home);
  const settingsStore = (store = openStore(startLog));
  try {
    if (!trustSystemCertificates()) startLog.info("downloads trust Node's own CA list (this Node cannot read the system store)");
  } catch (err) {
    startLog.warn('could not add the system certificate store for downloads', err);
  }
  goneLog = new ProcessGoneLog(startLog);
  const fork = utilityProcess.fork.bind(utilityProcess);
  const emit = ipcEmitter(() => [...appWindows].map((w) => w.webContents));
  services = await createKilnServices({
    home,
    electron: true,
    emit,
    // CPU runs in utility processes; WebGPU and auto runs with a hidden trainer page on Chromium's own WebGPU.
    spawner: trainerRouter(
      utilityTransport(fork, here, goneLog),
      gpuTrainerTransport({
        fork,
        dir: here,
        BrowserWindow,
        MessageChannelMain,
        pageUrl: GPU_TRAINER_URL,
        preload: GPU_TRAINER_PRELOAD,
        gone: goneLog,
        log: startLog,
      }),
      async (h, runId) => (await new RunStore(h).get(runId)).resolved.config.backend,
    ),
    jobs: createJobRunner(utilityTransport(fork, here, goneLog)),
    settings: new ElectronSettingsStore(settingsStore),
    // Downloads use Node's https; Chromium's resolver knows the system's proxy settings and PAC script.
    proxyFor: (url) => session.defaultSession.resolveProxy(url),
    pickFolder: async () => {
      const options = { title: 'Choose a folder of images', properties: ['openDirectory' as const] };
      const result = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options);
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
  });
  registerKilnIpc(ipcMain, services.handlers, {
    isTrustedSender: appMainFrames(() => [...appWindows].map((w) => w.webContents)),
    log: services.log,
  });
  mainWindow = createWindow();
  // A plain notice of a newer release, a while after start-up. Off in development and tests, and where
  // KILN_UPDATE_CHECK=0; KILN_UPDATE_FEED names another feed of the same shape (a mirror).
  if (app.isPackaged && process.env.KILN_UPDATE_CHECK !== '0') {
    updates = scheduleUpdateCheck({
      feedUrl: process.env.KILN_UPDATE_FEED || RELEASES_FEED,
      current: KILN_VERSION,
      fetch: net.fetch as typeof fetch,
      delayMs: 5_000,
      log: services.log,
      onNotice: (notice) => emit('appUpdate', notice),
    });
  }
  app.on('activate', () => {
    if (appWindows.size === 0) mainWindow = createWindow();
  });
}

/** Whatever stops start-up: logged, shown, and the process ends (it would otherwise hold the single-instance lock). */
function failStart(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  new DailyLog(home).error('Kiln could not start', err);
  fallbackLog.error(`Kiln could not start (home ${home})`, err);
  console.error(`Kiln could not start: ${message}`);
  try {
    dialog.showErrorBox('Kiln could not start', `${message}\n\nKiln home: ${home}\nLog: ${fallbackLog.fileFor()}`);
  } finally {
    app.exit(1);
  }
}

const logError = (what: string) => (err: unknown) => (services?.log ?? fallbackLog).error(what, err);
process.on('uncaughtException', logError('uncaught exception in the main process'));
process.on('unhandledRejection', logError('unhandled rejection in the main process'));

let quitting = false;
app.on('before-quit', (event) => {
  if (quitting || !services) return;
  // Running runs get a checkpoint before the app goes.
  event.preventDefault();
  quitting = true;
  void services.shutdown().finally(() => app.quit());
});
app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

if (!app.requestSingleInstanceLock()) app.quit();
else {
  app.on('second-instance', () => {
    if (!services) return; // still starting: its window is on the way
    // The window may be closed (macOS keeps the app running) or destroyed.
    if (!mainWindow || mainWindow.isDestroyed()) mainWindow = createWindow();
    else if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.whenReady().then(start).catch(failStart);
}
