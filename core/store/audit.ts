import type { Queryable } from './db.ts';

/** One administrative change: who, when, what, and the record before and after (secrets never). */
export interface AuditEntry {
  seq: number;
  at: string;
  actorId: string;
  actorRole: string;
  action: string;
  targetKind: string;
  targetId: string;
  before: unknown;
  after: unknown;
}

export type NewAuditEntry = Omit<AuditEntry, 'seq' | 'at' | 'before' | 'after'> & { before?: unknown; after?: unknown };

/** Appends to the audit trail (the store refuses to change or delete what is there). */
export async function appendAudit(db: Queryable, e: NewAuditEntry): Promise<void> {
  await db.query(
    'INSERT INTO audit_log (actor_id, actor_role, action, target_kind, target_id, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [e.actorId, e.actorRole, e.action, e.targetKind, e.targetId, e.before === undefined ? null : JSON.stringify(e.before), e.after === undefined ? null : JSON.stringify(e.after)],
  );
}

export async function listAudit(db: Queryable, f: { targetKind?: string; targetId?: string; actorId?: string; limit: number; offset: number }): Promise<{ items: AuditEntry[]; total: number }> {
  const conds: string[] = [];
  const params: unknown[] = [];
  for (const [col, v] of [['target_kind', f.targetKind], ['target_id', f.targetId], ['actor_id', f.actorId]] as const) {
    if (v === undefined) continue;
    params.push(v);
    conds.push(`${col} = $${params.length}`);
  }
  const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
  const total = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log ${where}`, params)).rows[0]!.n;
  const { rows } = await db.query<{ seq: string; at: Date; actor_id: string; actor_role: string; action: string; target_kind: string; target_id: string; before: unknown; after: unknown }>(
    `SELECT * FROM audit_log ${where} ORDER BY seq DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, f.limit, f.offset],
  );
  return { items: rows.map((r) => ({ seq: Number(r.seq), at: r.at.toISOString(), actorId: r.actor_id, actorRole: r.actor_role, action: r.action, targetKind: r.target_kind, targetId: r.target_id, before: r.before, after: r.after })), total };
}
