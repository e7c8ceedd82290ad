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
  {
    version: 2,
    name: 'alarms, incidents, downlink commands, rule memory, rule overrides',
    sql: `
      -- One row per alarm from its pending hold on. A pending hold that fails is deleted (it never
      -- became an alarm); every other row stays as history once cleared.
      CREATE TABLE alarms (
        id text PRIMARY KEY,
        device_id text NOT NULL,
        type text NOT NULL,
        rule_id text NOT NULL,
        state text NOT NULL CHECK (state IN ('pending','active','clearing','cleared')),
        severity text,
        item text,
        whistle text[] NOT NULL DEFAULT '{}',
        count integer NOT NULL DEFAULT 1,
        since timestamptz NOT NULL,
        pending_since timestamptz,
        raised_at timestamptz,
        last_seen_at timestamptz NOT NULL,
        cleared_at timestamptz,
        building_id text,
        micro_grid_id text,
        grid_id text,
        community_id text,
        storm_group text NOT NULL,
        storm_scope_id text,
        incident_id text,
        params jsonb NOT NULL,
        evidence jsonb NOT NULL
      );
      -- The store, not the engine's memory, guarantees one open alarm per (device, rule): two ingest
      -- instances racing on the same breach meet here and one of them counts a repeat.
      CREATE UNIQUE INDEX alarms_one_open ON alarms(device_id, rule_id) WHERE state <> 'cleared';
      CREATE INDEX alarms_state ON alarms(state);
      CREATE INDEX alarms_device ON alarms(device_id, raised_at);
      CREATE INDEX alarms_storm ON alarms(storm_group, storm_scope_id) WHERE state <> 'cleared';
      CREATE INDEX alarms_incident ON alarms(incident_id);

      CREATE TABLE incidents (
        id text PRIMARY KEY,
        group_key text NOT NULL,
        scope_kind text NOT NULL,
        scope_id text NOT NULL,
        state text NOT NULL CHECK (state IN ('open','closed')),
        opened_at timestamptz NOT NULL,
        last_at timestamptz NOT NULL,
        closed_at timestamptz,
        device_ids text[] NOT NULL,
        grid_id text,
        community_id text
      );
      CREATE UNIQUE INDEX incidents_one_open ON incidents(group_key, scope_id) WHERE state = 'open';

      CREATE TABLE alarm_commands (
        id text PRIMARY KEY,
        alarm_id text NOT NULL,
        device_id text NOT NULL,
        name text NOT NULL,
        params jsonb NOT NULL,
        sent_at timestamptz NOT NULL,
        status text NOT NULL CHECK (status IN ('sent','acked','failed','timeout')),
        answered_at timestamptz,
        answer jsonb
      );
      CREATE INDEX alarm_commands_alarm ON alarm_commands(alarm_id);
      CREATE INDEX alarm_commands_sent ON alarm_commands(status) WHERE status = 'sent';

      -- What a rule remembers between alarms: count windows, repeats by floor.
      CREATE TABLE rule_memory (
        device_id text NOT NULL,
        rule_id text NOT NULL,
        data jsonb NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (device_id, rule_id)
      );

      CREATE TABLE rule_overrides (
        scope_kind text NOT NULL CHECK (scope_kind IN ('org','device')),
        scope_id text NOT NULL,
        rule_id text NOT NULL,
        params jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope_kind, scope_id, rule_id)
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
