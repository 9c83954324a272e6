import type { TransferredPort } from '../../common/parent-end.ts';
import type { OwnerLink, PageMessage } from './gpu-protocol.ts';

/**
 * The owner's end of the GPU page link over the MessagePort the host handed this trainer (Electron's
 * MessagePortMain: structured clone, typed arrays copied once). Messages wait in the port until it is started.
 */
export function portLink(port: TransferredPort): OwnerLink {
  let started = false;
  return {
    send: (m) => port.postMessage(m),
    onMessage: (l) => {
      port.on('message', (e) => l(e.data as PageMessage));
      if (!started) {
        started = true;
        port.start();
      }
    },
    onClose: (l) => void port.on('close', l),
    close: () => port.close(),
  };
}
