import type { Queryable } from './db.ts';

/** A browser session: whose it is and the token it was opened with (digests only). */
export interface Session {
  userId: string;
  tokenSha256: string;
  expiresAt: string;
}

export async function openSession(db: Queryable, idSha256: string, s: Session): Promise<void> {
  // Expired sessions go as new ones come: the table holds only live ones and a few stale.
  await db.query('DELETE FROM sessions WHERE expires_at < now()');
  await db.query('INSERT INTO sessions (id_sha256, user_id, token_sha256, expires_at) VALUES ($1, $2, $3, $4)', [idSha256, s.userId, s.tokenSha256, s.expiresAt]);
}

/** The live session with this id, if any. */
export async function getSession(db: Queryable, idSha256: string): Promise<Session | undefined> {
  const { rows } = await db.query<{ user_id: string; token_sha256: string; expires_at: Date }>('SELECT user_id, token_sha256, expires_at FROM sessions WHERE id_sha256 = $1 AND expires_at > now()', [idSha256]);
  const r = rows[0];
  return r && { userId: r.user_id, tokenSha256: r.token_sha256, expiresAt: r.expires_at.toISOString() };
}

export async function closeSession(db: Queryable, idSha256: string): Promise<boolean> {
  const r = await db.query('DELETE FROM sessions WHERE id_sha256 = $1', [idSha256]);
  return (r.affectedRows ?? 0) > 0;
}
