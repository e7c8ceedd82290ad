import type { Queryable } from './db.ts';

export interface ServiceAccount {
  username: string;
  name: string;
  secretHash: string;
  subscribe: string[];
  publish: string[];
}

export async function insertServiceAccount(db: Queryable, a: ServiceAccount): Promise<void> {
  await db.query(
    'INSERT INTO service_accounts (username, name, secret_hash, subscribe, publish) VALUES ($1, $2, $3, $4, $5)',
    [a.username, a.name, a.secretHash, JSON.stringify(a.subscribe), JSON.stringify(a.publish)],
  );
}

export async function getServiceAccount(db: Queryable, username: string): Promise<ServiceAccount | undefined> {
  const { rows } = await db.query<{ username: string; name: string; secret_hash: string; subscribe: string[]; publish: string[] }>(
    'SELECT * FROM service_accounts WHERE username = $1',
    [username],
  );
  const r = rows[0];
  return r && { username: r.username, name: r.name, secretHash: r.secret_hash, subscribe: r.subscribe, publish: r.publish };
}
