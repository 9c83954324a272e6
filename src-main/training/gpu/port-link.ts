import type { TransferredPort } from '../../common/parent-end.ts';
import type { OwnerLink, PageMessage } from './gpu-protocol.ts';

/** How long a closed port waits for the host to say why the page died (its message may come after the close). */
const REASON_WAIT_MS = 2000;

/**
 * The owner's end of the GPU page link over the MessagePort the host handed this trainer (Electron's
 * MessagePortMain: structured clone, typed arrays copied once). Messages wait in the port until it is started.
 * `goneReason`: Chromium's reason for a dead page, when the host sends it (trainer-entry.ts).
 */
export function portLink(port: TransferredPort, goneReason?: Promise<string>): OwnerLink {
  let started = false;
  let why: Promise<string | undefined> | undefined;
  const reason = () =>
    (why ??= Promise.race([
      goneReason ?? Promise.resolve(undefined),
      new Promise<undefined>((resolve) => setTimeout(resolve, goneReason ? REASON_WAIT_MS : 0)),
    ]));
  return {
    send: (m) => port.postMessage(m),
    onMessage: (l) => {
      port.on('message', (e) => l(e.data as PageMessage));
      if (!started) {
        started = true;
        port.start();
      }
    },
    onClose: (l) => void port.on('close', () => void reason().then(l)),
    close: () => port.close(),
  };
}
