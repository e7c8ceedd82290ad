import type { FastifyRequest } from 'fastify';
import { appendAudit } from '../core/store/audit.ts';
import type { Db, Queryable } from '../core/store/db.ts';

/**
 * Every administrative change is recorded or not made: the change and its audit entry are one
 * store transaction. `change` returns what the record looks like after (never a secret).
 */
export async function audited<T>(db: Db, req: FastifyRequest, what: { action: string; targetKind: string; targetId: string; before?: unknown }, change: (tx: Queryable) => Promise<T>, after: (result: T) => unknown = (r) => r, applied: (result: T) => boolean = (r) => r !== false && !(Array.isArray(r) && r.length > 0)): Promise<T> {
  try {
    return await db.transaction(async (tx) => {
      const result = await change(tx);
      // Nothing changed (no such record, already there): nothing is recorded either.
      if (!applied(result)) throw new NotApplied(result);
      await appendAudit(tx, { actorId: req.user.id, actorRole: req.user.role, ...what, after: after(result) });
      return result;
    });
  } catch (err) {
    if (err instanceof NotApplied) return err.result as T;
    throw err;
  }
}

class NotApplied extends Error {
  constructor(readonly result: unknown) {
    super('not applied');
  }
}
