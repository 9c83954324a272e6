import type { KilnApi } from '../../../src-shared/contract.ts';
import { connectKiln, type WsKilnClient } from './ws-client.ts';

/** What Electron's preload adds beyond the contract: the path of a dropped file (webUtils.getPathForFile). */
interface ElectronKiln extends KilnApi {
  pathForFile?(file: File): string;
}

declare global {
  interface Window {
    kiln?: ElectronKiln;
  }
}

export type ConnectionState = 'connecting' | 'open' | 'closed' | 'refused';

const socket: WsKilnClient | null = window.kiln ? null : connectKiln();

/** The one handle the views use; inside Electron the preload's bridge, in a browser the server's socket. */
export const api: KilnApi = window.kiln ?? socket!;

export const inElectron = Boolean(window.kiln);

/** A dropped file's path on disk, where the host can tell it (Electron); null in a browser. */
export function pathForFile(file: File): string | null {
  try {
    return window.kiln?.pathForFile?.(file) || null;
  } catch {
    return null;
  }
}

export function watchConnection(fn: (state: ConnectionState) => void): void {
  if (!socket) return fn('open');
  fn('connecting');
  socket.onConnection((s) => fn(s.state === 'closed' && !s.retrying ? 'refused' : s.state));
}
