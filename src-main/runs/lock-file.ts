// Lock files moved to common (upload folders are owned the same way); runs keep importing them from here.
export * from '../common/lock-file.ts';
