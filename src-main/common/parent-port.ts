/**
 * How long a child in an Electron utility process (trainer, job) waits, after its last message, for the parent to
 * end it before it exits on its own: the port has no delivery callback and closes on exit, so exiting at once can
 * drop the message (electron/utility-spawner.ts ends the child once it has the message).
 */
export const PARENT_CLOSE_GRACE_MS = 2_000;
