// How the embedded store's PostgreSQL is started, for the store's thread and the in-thread store alike.
// Plain JavaScript: pglite-thread.mjs loads it without tsx.
import { PGlite } from '@electric-sql/pglite';

/**
 * PostgreSQL's shared buffers, in MB. PGlite starts with PostgreSQL's default, 128 MB, all of it
 * resident inside the WASM heap from the first start; the platform's working set (readings appended
 * at the end of one table, small indexes) needs far less. With 16 MB the platform with 1,000 devices
 * idled at 368 MB instead of 541, and under `npm run bench:platform` (three pairs, before and after
 * alternating) peaked at 532–580 MB instead of 658–743 at QoS 1. Its rate moved within the runs'
 * spread (QoS 1 medians 17,597 → 16,686 msg/s, the machine slowing over the pairs).
 */
const SHARED_BUFFERS_MB = 16;

/** PGlite.create's options: its default start parameters, plus ours. */
export function pgliteOptions() {
  return { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS_MB}MB`] };
}
