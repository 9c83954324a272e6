import { OPTIONAL_COLUMNS } from '../lib/run-columns.ts';

const KEY = 'kiln.runColumns.hidden';
/** Hidden until asked for: they rarely tell runs apart. */
const DEFAULT_HIDDEN = ['seed', 'valLoss'];

/** Which optional columns of the runs table show, remembered in this browser (localStorage). */
class RunColumnsState {
  hidden = $state<string[]>(read());

  shows(key: string): boolean {
    return !OPTIONAL_COLUMNS.has(key) || !this.hidden.includes(key);
  }

  set(key: string, shown: boolean): void {
    this.hidden = shown ? this.hidden.filter((k) => k !== key) : [...new Set([...this.hidden, key])];
    localStorage.setItem(KEY, JSON.stringify(this.hidden));
  }
}

function read(): string[] {
  try {
    const saved: unknown = JSON.parse(localStorage.getItem(KEY) ?? 'null');
    return Array.isArray(saved) ? saved.filter((k): k is string => typeof k === 'string') : DEFAULT_HIDDEN;
  } catch {
    return DEFAULT_HIDDEN;
  }
}

export const runColumns = new RunColumnsState();
