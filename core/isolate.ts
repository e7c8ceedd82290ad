/**
 * One bad row never blocks the rows behind it (every buffered writer: readings, dead letters,
 * alarms, commands, presence). A write the store refuses because of what is in it is split in
 * halves until the rows it refuses are found; those are handed to `reject` (dead-lettered with the
 * store's error) and the rest are written. A write that fails for any other reason (the store is
 * busy, gone, or its connection lost) is transient: the caller retries it with backoff.
 */

/**
 * PostgreSQL error classes that say the data is what is wrong, so the same rows fail every time:
 * 22 data exception (out of range, invalid text), 23 integrity constraint, 54 program limit (a value
 * too large or nested too deep). Everything else — connection, resources, a bug in a statement — is
 * retried: nothing is dropped for a reason the rows did not cause, and health says the writer waits.
 */
const PERMANENT_SQLSTATE = /^(22|23|54)/;

/** HTTP answers of a time-series server that refuse the batch itself (bad line, too large, outside retention). */
const PERMANENT_HTTP = new Set([400, 413, 422]);

export function isPermanent(err: unknown): boolean {
  const e = err as { code?: unknown; statusCode?: unknown; status?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return PERMANENT_SQLSTATE.test(e.code);
  const status = typeof e.statusCode === 'number' ? e.statusCode : typeof e.status === 'number' ? e.status : undefined;
  return status !== undefined && PERMANENT_HTTP.has(status);
}

/** A transient failure part-way through: the first `done` items were written (or rejected) already. */
export class PartialWriteError extends Error {
  constructor(override readonly cause: unknown, readonly done: number) {
    super(`write failed after ${done} item(s): ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/**
 * Writes `items` in order through `write`, isolating the rows the store refuses. Returns how many
 * were rejected. A transient failure throws a PartialWriteError saying how many leading items are
 * done, so the caller retries only the rest and nothing is written twice.
 */
export async function writeIsolating<T>(
  items: T[],
  write: (part: T[]) => Promise<void>,
  reject: (item: T, err: Error) => Promise<void> | void,
): Promise<number> {
  let done = 0;
  let rejected = 0;
  // Ranges still to write, the next one on top: splitting pushes the right half first, so rows go in order.
  const todo: [number, number][] = [[0, items.length]];
  while (todo.length > 0) {
    const [a, b] = todo.pop()!;
    if (a === b) continue;
    try {
      await write(items.slice(a, b));
      done = b;
    } catch (err) {
      if (!isPermanent(err)) throw new PartialWriteError(err, done);
      if (b - a > 1) {
        const m = (a + b) >> 1;
        todo.push([m, b], [a, m]);
        continue;
      }
      try {
        await reject(items[a]!, err as Error);
      } catch (rejectErr) {
        throw new PartialWriteError(rejectErr, done);
      }
      rejected++;
      done = b;
    }
  }
  return rejected;
}
