import type { Queryable } from './db.ts';

export interface ServiceAccount {
  username: string;
  name: string;
  secretHash: string;
  subscribe: string[];
  publish: string[];
  /** Filters inside the allowed ones it may never subscribe to, receive or publish on. */
  deny: string[];
  createdAt?: string;
  revokedAt?: string | null;
}

type Row = { username: string; name: string; secret_hash: string; subscribe: string[]; publish: string[]; deny: string[]; created_at: Date; revoked_at: Date | null };
const toAccount = (r: Row): ServiceAccount => ({
  username: r.username, name: r.name, secretHash: r.secret_hash, subscribe: r.subscribe, publish: r.publish, deny: r.deny,
  createdAt: r.created_at.toISOString(), revokedAt: r.revoked_at?.toISOString() ?? null,
});

export async function insertServiceAccount(db: Queryable, a: ServiceAccount): Promise<void> {
  await db.query(
    'INSERT INTO service_accounts (username, name, secret_hash, subscribe, publish, deny) VALUES ($1, $2, $3, $4, $5, $6)',
    [a.username, a.name, a.secretHash, JSON.stringify(a.subscribe), JSON.stringify(a.publish), JSON.stringify(a.deny)],
  );
}

/** The account, unless revoked (a revoked account is as good as none). */
export async function getServiceAccount(db: Queryable, username: string): Promise<ServiceAccount | undefined> {
  const { rows } = await db.query<Row>('SELECT * FROM service_accounts WHERE username = $1 AND revoked_at IS NULL', [username]);
  return rows[0] && toAccount(rows[0]);
}

export async function listServiceAccounts(db: Queryable): Promise<ServiceAccount[]> {
  const { rows } = await db.query<Row>('SELECT * FROM service_accounts ORDER BY created_at, username');
  return rows.map(toAccount);
}

/** Revokes an account; false if there is none (or it was revoked already). */
export async function revokeServiceAccount(db: Queryable, username: string): Promise<boolean> {
  const r = await db.query('UPDATE service_accounts SET revoked_at = now() WHERE username = $1 AND revoked_at IS NULL', [username]);
  return (r.affectedRows ?? 0) > 0;
}

export async function setServiceAccountSecret(db: Queryable, username: string, secretHash: string): Promise<boolean> {
  const r = await db.query('UPDATE service_accounts SET secret_hash = $2 WHERE username = $1 AND revoked_at IS NULL', [username, secretHash]);
  return (r.affectedRows ?? 0) > 0;
}
