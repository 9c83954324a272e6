import fs from 'node:fs';
import { promisify } from 'node:util';
import { DataError } from '../common/errors.ts';
import { formatZodError } from '../../src-shared/zod-error.ts';
import {
  EpochMetricSchema,
  StepMetricSchema,
  type EpochMetric,
  type MetricLine,
  type RunMetrics,
  type StepMetric,
} from '../../src-shared/run-types.ts';
import { readTextOrNull } from '../common/read-text.ts';

/**
 * metrics.jsonl: one JSON object per line, only ever appended. Lines of a type this version
 * does not know are kept and skipped on read, so the engine can add kinds of lines freely.
 */

const fsync = promisify(fs.fsync);

const SCHEMAS = { step: StepMetricSchema, epoch: EpochMetricSchema } as const;

/** Check and serialise lines; NaN/Infinity losses become null (through JSON) before the check. */
export function serializeMetricLines(lines: readonly MetricLine[], what: string): string {
  let text = '';
  lines.forEach((line, i) => {
    const json = JSON.stringify(line);
    const schema = SCHEMAS[(line as { type?: string })?.type as keyof typeof SCHEMAS];
    if (schema) {
      const result = schema.safeParse(JSON.parse(json));
      if (!result.success) throw new Error(formatZodError(result.error, `${what}: line ${i}`));
    } else if (typeof (line as { type?: unknown })?.type !== 'string') {
      throw new Error(`${what}: line ${i}: expected an object with a string "type"`);
    }
    text += json + '\n';
  });
  return text;
}

/**
 * An open metrics file. Writes are synchronous and whole (one write() per batch of lines, on an
 * O_APPEND descriptor), so they land in order, reach the OS before the call returns (a killed
 * process loses nothing it appended) and never interleave with another writer's lines.
 * flush() fsyncs, for power loss.
 */
export class MetricsAppender {
  private fd: number;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'a+');
    try {
      dropTornTail(this.fd);
    } catch (err) {
      fs.closeSync(this.fd);
      throw err;
    }
  }

  append(text: string): void {
    if (!text) return;
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off);
  }

  private flushed: Promise<void> = Promise.resolve();

  /** fsync; flushes run one after another, so awaiting the last one awaits them all (close waits on it). */
  flush(): Promise<void> {
    const fd = this.fd;
    this.flushed = this.flushed.catch(() => undefined).then(() => fsync(fd));
    return this.flushed;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/**
 * A crash mid-append can leave a partial last line. Cut it off before appending, or the next
 * line would be glued to it and both would be lost.
 */
function dropTornTail(fd: number): void {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return;
  const chunk = Buffer.alloc(Math.min(size, 64 * 1024));
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const n = fs.readSync(fd, chunk, 0, end - start, start);
    if (end === size && chunk[n - 1] === 0x0a) return;
    const nl = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (nl >= 0) {
      fs.ftruncateSync(fd, start + nl + 1);
      return;
    }
    end = start;
  }
  fs.ftruncateSync(fd, 0);
}

/** Parse metrics.jsonl text. A partial last line is ignored; a bad line elsewhere is an error naming it. */
export function parseMetricsText(text: string, file: string): RunMetrics {
  const parts = text.split('\n');
  const tail = parts.pop() ?? '';
  const steps = new Map<number, StepMetric>();
  const epochs = new Map<number, EpochMetric>();
  parts.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new DataError(`${file}:${i + 1}: not a JSON line: ${line.slice(0, 80)}`);
    }
    const type = (value as { type?: unknown })?.type;
    if (type === 'step') {
      const r = StepMetricSchema.safeParse(value);
      if (!r.success) throw new DataError(formatZodError(r.error, `${file}:${i + 1}`));
      steps.set(r.data.step, r.data);
    } else if (type === 'epoch') {
      const r = EpochMetricSchema.safeParse(value);
      if (!r.success) throw new DataError(formatZodError(r.error, `${file}:${i + 1}`));
      epochs.set(r.data.epoch, r.data);
    }
  });
  return {
    steps: [...steps.values()].sort((a, b) => a.step - b.step),
    epochs: [...epochs.values()].sort((a, b) => a.epoch - b.epoch),
    tornTail: tail.length > 0,
  };
}

export async function readMetricsFile(file: string): Promise<RunMetrics> {
  const text = await readTextOrNull(file);
  if (text === null) return { steps: [], epochs: [], tornTail: false };
  return parseMetricsText(text, file);
}

/**
 * The lines to keep when a run resumes from the checkpoint at `step`: everything logged up to
 * it. Lines without a step are kept; a torn tail is dropped.
 */
export function keepUpToStep(text: string, step: number): string {
  const parts = text.split('\n');
  parts.pop();
  return parts
    .filter((line) => {
      if (line.trim() === '') return false;
      try {
        const s = (JSON.parse(line) as { step?: unknown }).step;
        return typeof s !== 'number' || s <= step;
      } catch {
        return true; // not ours to judge; readMetrics will name it
      }
    })
    .map((line) => line + '\n')
    .join('');
}
