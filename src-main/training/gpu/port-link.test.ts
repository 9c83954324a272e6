import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TransferredPort } from '../../common/parent-end.ts';
import { portLink } from './port-link.ts';

/** A port whose far end can be closed by the test, as a dead renderer closes the page's. */
function fakePort(): TransferredPort & EventEmitter {
  return Object.assign(new EventEmitter(), { postMessage() {}, start() {}, close() {} }) as unknown as TransferredPort & EventEmitter;
}

describe('portLink: a closed page port and the reason the host gives', () => {
  afterEach(() => vi.useRealTimers());

  it('waits for the reason when it comes after the close', async () => {
    let tell: (r: string) => void = () => undefined;
    const port = fakePort();
    const link = portLink(port, new Promise((resolve) => (tell = resolve)));
    const got = new Promise((resolve) => link.onClose(resolve));
    port.emit('close');
    setTimeout(() => tell('its renderer is gone: reason oom, exit code 9'), 50);
    expect(await got).toBe('its renderer is gone: reason oom, exit code 9');
  });

  it('closes without a reason once the host has said nothing for 2 s, and at once where no host can say', async () => {
    vi.useFakeTimers();
    const silent = fakePort();
    let said: unknown = 'nothing yet';
    portLink(silent, new Promise(() => undefined)).onClose((r) => (said = r));
    silent.emit('close');
    await vi.advanceTimersByTimeAsync(1900);
    expect(said).toBe('nothing yet');
    await vi.advanceTimersByTimeAsync(200);
    expect(said).toBeUndefined();

    const plain = fakePort();
    let plainSaid: unknown = 'nothing yet';
    portLink(plain).onClose((r) => (plainSaid = r));
    plain.emit('close');
    await vi.advanceTimersByTimeAsync(1);
    expect(plainSaid).toBeUndefined();
  });
});
