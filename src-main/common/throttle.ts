/** Calls through at most every `ms` milliseconds, plus whenever `force` is set, so a fast loop cannot flood IPC. */
export function throttle<E>(fn: (e: E) => void, ms = 100): (e: E, force?: boolean) => void {
  let last = 0;
  return (e, force = false) => {
    const now = performance.now();
    if (force || now - last >= ms) {
      last = now;
      fn(e);
    }
  };
}
