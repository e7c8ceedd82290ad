import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Db } from './db.ts';

/** The embedded store: PostgreSQL compiled to WASM, a folder on disk, no native build. */
export async function openPglite(dir: string): Promise<Db> {
  mkdirSync(dir, { recursive: true });
  const pg = await PGlite.create(dir);
  return {
    query: async (sql, params) => {
      const r = await pg.query(sql, params);
      return { rows: r.rows as never[], affectedRows: r.affectedRows };
    },
    exec: async (sql) => {
      await pg.exec(sql);
    },
    transaction: (fn) =>
      pg.transaction((tx) =>
        fn({
          query: async (sql, params) => {
            const r = await tx.query(sql, params);
            return { rows: r.rows as never[], affectedRows: r.affectedRows };
          },
        }),
      ),
    close: () => pg.close(),
  };
}
