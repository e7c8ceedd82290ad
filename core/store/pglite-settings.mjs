// How the embedded store's PostgreSQL is started, for the store's thread and the in-thread store alike.
// Plain JavaScript: pglite-thread.mjs loads it without tsx.
import { PGlite } from '@electric-sql/pglite';

/**
 * PostgreSQL's shared buffers, in MB. PGlite starts with PostgreSQL's default, 128 MB, all of it
 * resident inside the WASM heap from the first start; the platform's working set (readings appended
 * at the end of one table, small indexes) needs far less. With 16 MB, `npm run bench:platform`'s
 * platform idled at 368 MB instead of 541 and peaked at 577 instead of 745 under 1,000 publishers,
 * at the same rate (24,551 vs 24,640 msg/s at QoS 1).
 */
const SHARED_BUFFERS_MB = 16;

/** PGlite.create's options: its default start parameters, plus ours. */
export function pgliteOptions() {
  return { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS_MB}MB`] };
}
