/** Fixed IPC channel names (a module of its own so the sandboxed preload bundles nothing else). */
export const IPC_INVOKE = 'kiln:invoke';
export const IPC_EVENT = 'kiln:event';
