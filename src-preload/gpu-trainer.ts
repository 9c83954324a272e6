/**
 * The GPU trainer window's preload (sandboxed, context-isolated): hands the page the MessagePort the main process
 * sends, its link to the trainer process that owns the run (src-main/training/gpu). Nothing else crosses.
 */
import { ipcRenderer } from 'electron';

ipcRenderer.once('kiln-gpu-port', (event) => {
  window.postMessage('kiln-gpu-port', '*', event.ports);
});
