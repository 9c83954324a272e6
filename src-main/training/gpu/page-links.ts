import { decodeMessage, encodeMessage } from './wire-codec.ts';
import type { OwnerMessage, PageLink, PageMessage } from './gpu-protocol.ts';

/** The page's end over a MessagePort (the app: handed over by the trainer window's preload). Structured clone carries typed arrays. */
export function messagePortPageLink(port: MessagePort): PageLink {
  const closeListeners: (() => void)[] = [];
  port.addEventListener('close', () => closeListeners.forEach((l) => l()));
  return {
    send: (m: PageMessage) => port.postMessage(m),
    onMessage: (l) => {
      port.addEventListener('message', (e) => l(e.data as OwnerMessage));
      port.start();
    },
    onClose: (l) => void closeListeners.push(l),
    close: () => {
      port.close();
      window.close();
    },
  };
}

/** The page's end over a WebSocket to the owner (tests: the test process plays the file-owning side). */
export async function webSocketPageLink(url: string): Promise<PageLink> {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`could not connect to the trainer at ${url}`));
  });
  // A socket drops what arrives before a listener (a MessagePort queues it until started): queue it here.
  const queued: OwnerMessage[] = [];
  const listeners: ((m: OwnerMessage) => void)[] = [];
  ws.addEventListener('message', (e) => {
    const m = decodeMessage(new Uint8Array(e.data as ArrayBuffer)) as OwnerMessage;
    if (listeners.length) for (const l of listeners) l(m);
    else queued.push(m);
  });
  return {
    send: (m: PageMessage) => ws.send(encodeMessage(m)),
    onMessage: (l) => {
      listeners.push(l);
      for (const m of queued.splice(0)) l(m);
    },
    onClose: (l) => void ws.addEventListener('close', () => l()),
    close: () => ws.close(),
  };
}
