/**
 * The GPU trainer page's script (src-renderer/gpu-trainer.html): no Node, no files, only Chromium's WebGPU. In the
 * app a hidden, sandboxed window loads it and its preload hands over a MessagePort to the trainer process; under
 * test, `?ws=` names the WebSocket of the test that plays the trainer process.
 */
import { servePage } from './page-trainer.ts';
import { messagePortPageLink, webSocketPageLink } from './page-links.ts';
import type { PageLink } from './gpu-protocol.ts';

function portFromPreload(): Promise<PageLink> {
  return new Promise((resolve) => {
    const onMessage = (e: MessageEvent) => {
      if (e.data !== 'kiln-gpu-port' || !e.ports[0]) return;
      window.removeEventListener('message', onMessage);
      resolve(messagePortPageLink(e.ports[0]));
    };
    window.addEventListener('message', onMessage);
  });
}

const ws = new URLSearchParams(location.search).get('ws');
const link = ws ? await webSocketPageLink(ws) : await portFromPreload();
await servePage(link).catch((err: unknown) => {
  link.send({
    type: 'error',
    error: { name: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err) },
  });
});
