import type { DailyLog } from '../app/daily-log.ts';

/** Electron's `child-process-gone` details (Details in its docs); `name` is a utility process's serviceName. */
export interface ChildGoneDetails {
  type: string;
  reason: string;
  exitCode: number;
  serviceName?: string;
  name?: string;
}

const GRACE_MS = 400;

/**
 * Chromium's account of child processes that ended abnormally (app 'child-process-gone'): every one is logged
 * with its reason and exit code, and a spawner asks for the reason of its own process by name when that process
 * exits. Which of the two events comes first is not documented, so the question waits a little for the answer.
 * Names must be unique per live process (electron/utility-transport.ts makes them so).
 */
export class ProcessGoneLog {
  private readonly known = new Map<string, ChildGoneDetails>();
  private readonly waiting = new Map<string, (d: ChildGoneDetails) => void>();

  constructor(private readonly log: DailyLog) {}

  /** The handler for app.on('child-process-gone', (_event, details) => …). */
  childGone(details: ChildGoneDetails): void {
    if (details.reason === 'clean-exit') return;
    const who = details.name ? `${details.type} process "${details.name}"` : `${details.type} process`;
    this.log.warn(`${who} is gone: reason ${details.reason}, exit code ${details.exitCode}`);
    if (!details.name) return;
    const waiter = this.waiting.get(details.name);
    if (waiter) waiter(details);
    else {
      this.known.set(details.name, details);
      // Nobody asked (not ours, or asked already): forget it after a while.
      setTimeout(() => this.known.delete(details.name!), 10 * GRACE_MS).unref();
    }
  }

  /** The reason Chromium gave for the process named `name`, if it says within `graceMs`. */
  reasonFor(name: string, graceMs = GRACE_MS): Promise<string | undefined> {
    const known = this.known.get(name);
    if (known) {
      this.known.delete(name);
      return Promise.resolve(known.reason);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(name);
        resolve(undefined);
      }, graceMs);
      this.waiting.set(name, (d) => {
        clearTimeout(timer);
        this.waiting.delete(name);
        resolve(d.reason);
      });
    });
  }
}
