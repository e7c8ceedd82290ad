import { scopeSql, type Scope, type ScopeColumns } from '../reach.ts';
import type { Queryable } from './db.ts';

/** Conditions of a WHERE clause with numbered parameters: `add('grid_id = ?', id)`, `raw("state <> 'cleared'")`. */
export class Where {
  readonly params: unknown[] = [];
  private readonly clauses: string[] = [];

  add(clause: string, value: unknown): void {
    this.params.push(value);
    this.clauses.push(clause.replaceAll('?', `$${this.params.length}`));
  }

  raw(clause: string): void {
    this.clauses.push(clause);
  }

  /** The reader's reach (core/reach.ts) on this table's columns. */
  scope(s: Scope | undefined, cols: ScopeColumns): void {
    const c = s && scopeSql(s, cols, this.params.length + 1);
    if (!c) return;
    this.params.push(...c.params);
    this.clauses.push(c.sql);
  }

  toString(): string {
    return this.clauses.length ? `WHERE ${this.clauses.join(' AND ')}` : '';
  }
}

/** One page of a table's rows that match, in `orderBy` order, with how many match in all. */
export async function page<R>(db: Queryable, table: string, where: Where, orderBy: string, limit: number, offset: number): Promise<{ rows: R[]; total: number }> {
  const p = where.params;
  const total = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} ${where}`, p)).rows[0]!.n;
  const { rows } = await db.query<R>(`SELECT * FROM ${table} ${where} ORDER BY ${orderBy} LIMIT $${p.length + 1} OFFSET $${p.length + 2}`, [...p, limit, offset]);
  return { rows, total };
}
