import path from 'node:path';
import { inject } from 'vitest';
import type { Db } from '../../core/store/db.ts';
import { openPglite } from '../../core/store/pglite.ts';
import { openPostgres } from '../../core/store/postgres.ts';
import '../setup/postgres.ts';
import { createDatabase } from './services.ts';

/**
 * Which store the suites run on: the embedded PGlite (default) or a PostgreSQL server
 * (TEST_STORE=postgres, `npm run test:postgres`: the server is test/setup/postgres.ts's).
 */
export const TEST_STORE: 'pglite' | 'postgres' = process.env.TEST_STORE === 'postgres' ? 'postgres' : 'pglite';

const databases = new Map<string, Promise<string>>();

/** A fresh database per data folder, the same one again for the same folder (a restart finds its data). */
export function databaseFor(dataDir: string): Promise<string> | undefined {
  if (TEST_STORE !== 'postgres') return undefined;
  let url = databases.get(dataDir);
  if (!url) {
    url = createDatabase(inject('postgresUrl'), `t_${path.basename(dataDir).replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${Date.now().toString(36)}`);
    databases.set(dataDir, url);
  }
  return url;
}

/** The store a unit suite opens directly: PGlite in `dir`, or a fresh PostgreSQL database. */
export async function openTestStore(dir: string): Promise<Db> {
  const url = databaseFor(dir);
  return url ? openPostgres(await url) : openPglite(dir);
}
