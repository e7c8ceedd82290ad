import pg from 'pg';
import { isUnreachable, StoreUnavailableError, type Db, type Queryable } from './db.ts';

// What PGlite answers, pg answers too: bigint (int8) as a number, as PGlite does (every bigint the
// platform stores — sequence numbers, counters — is a safe integer; they are validated so at ingest).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** The server not reached is said as such (StoreUnavailableError); what it refused stays its own error. */
const reached = <T>(p: Promise<T>): Promise<T> => p.catch((err: Error) => Promise.reject(isUnreachable(err) ? new StoreUnavailableError(err) : err));

const queryable = (q: pg.Pool | pg.PoolClient): Queryable => ({
  query: async (sql, params) => {
    const r = await reached(q.query(sql, params as unknown[]));
    return { rows: r.rows, affectedRows: r.rowCount ?? undefined };
  },
});

/**
 * The store on a PostgreSQL server (DATABASE_URL): the same migrations and SQL as the embedded
 * PGlite store, through a node-postgres pool. Bulk work (`background`) gets its own smaller pool
 * so a readings batch never takes the connection an alarm's transaction needs. Durability is the
 * server's (a COMMIT returns once the WAL is flushed): `syncToDisk` has nothing left to do.
 */
export async function openPostgres(url: string, opts: { max?: number; backgroundMax?: number } = {}): Promise<Db> {
  // A server that does not answer at all fails a request in 5 s rather than holding it.
  const common = { connectionString: url, connectionTimeoutMillis: 5000 };
  const fore = new pg.Pool({ ...common, max: opts.max ?? 10, application_name: 'smart-property-safety' });
  const back = new pg.Pool({ ...common, max: opts.backgroundMax ?? 3, application_name: 'smart-property-safety (background)' });
  // A dropped idle connection is the pool's to replace, not a crash of the platform.
  for (const p of [fore, back]) p.on('error', () => {});
  // Fail at start, with the server's reason, not at the first query.
  (await fore.connect()).release();
  return {
    ...queryable(fore),
    background: queryable(back),
    exec: async (sql) => {
      await reached(fore.query(sql));
    },
    transaction: async (fn) => {
      const client = await reached(fore.connect());
      // A connection that cannot even roll back is broken: the pool closes it instead of lending it again.
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(queryable(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      } finally {
        client.release(broken);
      }
    },
    syncToDisk: async () => {},
    close: async () => {
      await Promise.all([fore.end(), back.end()]);
    },
  };
}
