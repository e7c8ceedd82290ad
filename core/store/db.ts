/**
 * The one interface the rest of the platform uses to reach the relational store. PGlite implements
 * it today; a PostgreSQL server (DATABASE_URL) implements the same calls with the same SQL.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; affectedRows?: number }>;
}

export interface Db extends Queryable {
  /**
   * The same store for bulk work that may wait: readings batches, merges, dead letters, pruning.
   * Where the store runs one statement at a time, these yield to every other query (see
   * foreground-first.ts) so an alarm never queues behind a fresh batch at each of its steps.
   */
  readonly background: Queryable;
  /** Runs several statements (no parameters): migrations. */
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Makes everything committed so far survive a power cut, not only a crash of the process. The
   * ingest journal lets go of readings only after this (PGlite's own fsync does nothing: its files
   * reach the kernel at each write, the disk when this runs).
   */
  syncToDisk(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The store cannot be reached (the server is down, restarting, or the connection broke): nothing
 * was decided about the data, so the caller may try again. The API answers 503 with Retry-After.
 */
export class StoreUnavailableError extends Error {
  readonly code = 'store_unavailable';
  constructor(cause: Error) {
    super(`store unavailable: ${cause.message}`, { cause });
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/** Whether an error says the store was not reached, rather than that it refused what it was sent. */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  const e = err as { code?: string; message?: string } | undefined;
  const code = e?.code ?? '';
  // SQLSTATE class 08 (connection exception), 57P01–57P03 (shut down, crashed, starting up).
  if (UNREACHABLE.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(e?.message ?? '');
}
