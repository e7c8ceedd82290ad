import type { Queryable } from './db.ts';

/** How far a consumer of the ingest journal (ingest/journal.ts) has written. */
export interface Checkpoint {
  consumer: string;
  lsn: number;
}

/**
 * `insert` (with `params`) and, with a checkpoint, the move of that consumer's mark, as one
 * statement: the rows and the position they reach are written together or not at all, so a replay
 * after a crash writes each journal record once. The mark only moves forward.
 */
export function withCheckpoint(insert: string, params: unknown[], checkpoint: Checkpoint | undefined): [string, unknown[]] {
  if (!checkpoint) return [insert, params];
  const n = params.length + 1;
  return [
    `WITH ins AS (${insert})
     INSERT INTO ingest_checkpoints (consumer, lsn) VALUES ($${n}, $${n + 1})
     ON CONFLICT (consumer) DO UPDATE SET lsn = GREATEST(ingest_checkpoints.lsn, EXCLUDED.lsn)`,
    [...params, checkpoint.consumer, checkpoint.lsn],
  ];
}

/**
 * A journal consumer's name in the store: each node has a journal of its own (its DATA_DIR) and so
 * marks of its own; one node ('local') keeps the plain name.
 */
export function consumerName(name: string, nodeId = 'local'): string {
  return nodeId === 'local' ? name : `${name}@${nodeId}`;
}

/** Where a journal consumer had got to (0: nowhere yet). */
export async function readCheckpoint(db: Queryable, consumer: string): Promise<number> {
  const { rows } = await db.query<{ lsn: string }>('SELECT lsn::text AS lsn FROM ingest_checkpoints WHERE consumer = $1', [consumer]);
  return rows[0] ? Number(rows[0].lsn) : 0;
}
