/**
 * The Electron main process: one window on the built renderer, the Kiln services behind the KilnApi
 * contract on a fixed IPC channel, trainers in utility processes. Everything else lives in
 * src-main/app (shared with `kiln serve`); this file only wires Electron to it.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, screen, session, shell, utilityProcess, type MenuItemConstructorOptions } from 'electron';
import Store from 'electron-store';
import { resolveHome } from '../common/home.ts';
import { createKilnServices, type KilnServices } from '../app/kiln-services.ts';
import { createJobRunner } from '../app/job-runner.ts';
import { DEFAULT_SETTINGS } from '../app/settings-store.ts';
import { ElectronSettingsStore, type AppStoreData, type WindowBounds } from './electron-settings.ts';
import { ipcEmitter, registerKilnIpc, trustedSender } from './register-ipc.ts';
import { utilityJobProcess, utilityTrainerSpawner } from './utility-spawner.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
// Built layout (electron-vite): out/main/{index,trainer-entry,job-entry}.js, out/preload/index.cjs, out/renderer/.
const PRELOAD = path.join(here, '../preload/index.cjs');
const RENDERER_URL = process.env.ELECTRON_RENDERER_URL ?? pathToFileURL(path.join(here, '../renderer/index.html')).href;
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors 'none'";

const home = resolveHome();
// One store for the CLI, the server and the app: the app's user data is the Kiln home.
app.setName('Kiln');
app.setPath('userData', home);

const store = new Store<AppStoreData>({ name: 'app-settings', cwd: home, defaults: { settings: DEFAULT_SETTINGS } });
let services: KilnServices | undefined;
let mainWindow: BrowserWindow | undefined;

function restoredBounds(): WindowBounds {
  const saved = store.get('windowBounds');
  const fallback = { width: 1280, height: 800, maximized: false };
  if (!saved) return fallback;
  // A window saved on a display that is gone would open off-screen.
  const area = screen.getDisplayMatching({ x: saved.x ?? 0, y: saved.y ?? 0, width: saved.width, height: saved.height }).workArea;
  const visible = saved.x !== undefined && saved.y !== undefined && saved.x < area.x + area.width && saved.y < area.y + area.height && saved.x + saved.width > area.x && saved.y + saved.height > area.y;
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
    webPreferences: { preload: PRELOAD, contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, spellcheck: false },
  });
  if (bounds.maximized) win.maximize();
  win.once('ready-to-show', () => win.show());
  win.on('close', () => store.set('windowBounds', { ...win.getNormalBounds(), maximized: win.isMaximized() }));
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
      submenu: [{ role: 'reload' }, { role: 'toggleDevTools' }, { type: 'separator' }, { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }],
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
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

async function start(): Promise<void> {
  lockDown();
  buildMenu();
  const fork = utilityProcess.fork.bind(utilityProcess);
  services = await createKilnServices({
    home,
    electron: true,
    emit: ipcEmitter(() => BrowserWindow.getAllWindows().map((w) => w.webContents)),
    spawner: utilityTrainerSpawner(fork, path.join(here, 'trainer-entry.js')),
    jobs: createJobRunner(utilityJobProcess(fork, path.join(here, 'job-entry.js'))),
    settings: new ElectronSettingsStore(store),
    pickFolder: async () => {
      const options = { title: 'Choose a folder of images', properties: ['openDirectory' as const] };
      const result = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options);
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
  });
  registerKilnIpc(ipcMain, services.handlers, { isTrustedSender: trustedSender(RENDERER_URL), log: services.log });
  mainWindow = createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) mainWindow = createWindow();
  });
}

process.on('uncaughtException', (err) => services?.log.error('uncaught exception in the main process', err));
process.on('unhandledRejection', (err) => services?.log.error('unhandled rejection in the main process', err));

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
    if (mainWindow?.isMinimized()) mainWindow.restore();
    mainWindow?.focus();
  });
  app.whenReady().then(start, (err: unknown) => {
    dialog.showErrorBox('Kiln could not start', err instanceof Error ? err.message : String(err));
    app.exit(1);
  });
}
