import path from 'node:path';
import type { Db } from './db.ts';
import { openPgliteWorker } from './pglite-worker.ts';
import { openPostgres } from './postgres.ts';

/**
 * The store is chosen once, at start, from the configuration (as Node-RED's runtime picks its
 * storage module from its settings): a PostgreSQL server when DATABASE_URL is set, else the
 * embedded PGlite under DATA_DIR. Nothing above core/ knows which it got.
 */
export function openStore(config: { DATABASE_URL?: string; DATA_DIR: string }): Promise<Db> {
  return config.DATABASE_URL ? openPostgres(config.DATABASE_URL) : openPgliteWorker(path.join(config.DATA_DIR, 'store'));
}
