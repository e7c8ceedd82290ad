import type { Db } from './db.ts';

/**
 * Versioned schema migrations, applied in order, each once, inside a transaction.
 * Append only: a released migration is never edited; a change is a new entry.
 */
export const migrations: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'org tree, devices, service accounts, readings, dead letters, settings',
    sql: `
      CREATE TABLE org_units (
        id text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('street','community','grid','micro_grid','building')),
        parent_id text REFERENCES org_units(id),
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX org_units_parent ON org_units(parent_id);

      CREATE TABLE devices (
        id text PRIMARY KEY,
        type text NOT NULL,
        building_id text NOT NULL REFERENCES org_units(id),
        name text,
        secret_hash text NOT NULL,
        protocol text NOT NULL DEFAULT 'mqtt',
        created_at timestamptz NOT NULL DEFAULT now(),
        online boolean NOT NULL DEFAULT false,
        last_seen timestamptz,
        latest jsonb NOT NULL DEFAULT '{}'::jsonb
      );
      CREATE INDEX devices_building ON devices(building_id);

      CREATE TABLE service_accounts (
        username text PRIMARY KEY,
        name text NOT NULL,
        secret_hash text NOT NULL,
        subscribe jsonb NOT NULL,
        publish jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );

      -- The embedded time series, used when no InfluxDB is configured; pruned by the retention window.
      CREATE TABLE readings (
        device_id text NOT NULL,
        type text NOT NULL,
        ts timestamptz NOT NULL,
        kind text NOT NULL CHECK (kind IN ('telemetry','event')),
        event text,
        seq integer,
        data jsonb NOT NULL,
        server_ts boolean NOT NULL DEFAULT false
      );
      CREATE INDEX readings_device_ts ON readings(device_id, ts);
      CREATE INDEX readings_ts ON readings(ts);

      CREATE TABLE dead_letters (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        device_id text,
        topic text,
        reason text NOT NULL,
        detail text,
        payload text,
        payload_bytes integer NOT NULL DEFAULT 0
      );
      CREATE INDEX dead_letters_at ON dead_letters(at);
      CREATE INDEX dead_letters_device ON dead_letters(device_id);

      CREATE TABLE platform_settings (
        key text PRIMARY KEY,
        value text NOT NULL
      );
    `,
  },
];

export async function migrate(db: Db): Promise<number[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations');
  const done = new Set(rows.map((r) => r.version));
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    await db.transaction(async (tx) => {
      for (const stmt of splitStatements(m.sql)) await tx.query(stmt);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    });
    applied.push(m.version);
  }
  return applied;
}

/** Splits a migration into statements (ours never put a semicolon inside a literal). */
function splitStatements(sql: string): string[] {
  return sql
    .replace(/--[^\n]*/g, '')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}
