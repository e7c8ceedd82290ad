import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Db, Queryable } from './db.ts';
import { syncFilesystem } from './sync.ts';
import { pgliteOptions } from './pglite-settings.mjs';

/** Adapts PGlite's (or one of its transactions') query to ours. */
const queryable = (q: PGlite | Transaction): Queryable => ({
  query: async (sql, params) => {
    const r = await q.query(sql, params);
    return { rows: r.rows as never[], affectedRows: r.affectedRows };
  },
});

/** The embedded store: PostgreSQL compiled to WASM, a folder on disk, no native build. */
export async function openPglite(dir: string): Promise<Db> {
  mkdirSync(dir, { recursive: true });
  const pg = await PGlite.create(dir, pgliteOptions());
  // In-thread (tests, bench:rules) the queries keep PGlite's own order.
  return {
    ...queryable(pg),
    background: queryable(pg),
    exec: async (sql) => {
      await pg.exec(sql);
    },
    transaction: (fn) => pg.transaction((tx) => fn(queryable(tx))),
    syncToDisk: () => syncFilesystem(dir),
    close: () => pg.close(),
  };
}
