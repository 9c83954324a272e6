import os from 'node:os';
import path from 'node:path';

/**
 * The Kiln home holds datasets, runs and logs. The default is the desktop app's
 * user-data folder (what Electron's app.getPath('userData') gives for "Kiln"),
 * so the CLI, the headless server and the app share one store.
 */
export function defaultHome(platform: NodeJS.Platform = process.platform, env = process.env): string {
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'Kiln');
  if (platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'Kiln');
  return path.join(env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'Kiln');
}

export function resolveHome(flag?: string, env = process.env): string {
  return path.resolve(flag ?? env.KILN_HOME ?? defaultHome(process.platform, env));
}
