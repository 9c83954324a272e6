import type { OwnerLink, PageMessage } from './gpu-protocol.ts';

/** The next message of `type` from the page; rejects if the page goes away or reports an error first. */
export function nextMessage<T extends PageMessage['type']>(
  link: OwnerLink,
  type: T,
  timeoutMs: number,
): Promise<Extract<PageMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    let done = false;
    const settle = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(
      () => settle(() => reject(new Error(`the GPU trainer page sent no '${type}' within ${timeoutMs / 1000} s`))),
      timeoutMs,
    );
    link.onMessage((m) => {
      if (m.type === type) settle(() => resolve(m as Extract<PageMessage, { type: T }>));
      else if (m.type === 'error') settle(() => reject(new Error(m.error.message)));
    });
    link.onClose((reason) =>
      settle(() => reject(new Error(`the GPU trainer page went away (${reason ?? 'its renderer crashed or was closed'})`))),
    );
  });
}
