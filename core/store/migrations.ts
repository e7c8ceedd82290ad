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
  {
    version: 3,
    name: 'users, duty, work items with their append-only timeline, whistles',
    sql: `
      CREATE TABLE users (
        id text PRIMARY KEY,
        name text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin','property_manager','grid_worker','property_staff','department','resident')),
        token_sha256 text NOT NULL UNIQUE,
        grid_ids text[] NOT NULL DEFAULT '{}',
        community_ids text[] NOT NULL DEFAULT '{}',
        department text,
        created_at timestamptz NOT NULL DEFAULT now()
      );

      -- The grid worker on duty in each grid: grid work orders of that grid go to them.
      CREATE TABLE duty (
        grid_id text PRIMARY KEY REFERENCES org_units(id),
        user_id text NOT NULL REFERENCES users(id)
      );

      CREATE TABLE work_items (
        id text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('work_order','ticket')),
        status text NOT NULL CHECK (status IN ('collected','accepted','dispatched','in_progress','resolved','closed','rejected')),
        severity text NOT NULL CHECK (severity IN ('critical','major','minor')),
        category text,
        title text NOT NULL,
        description text,
        source text NOT NULL CHECK (source IN ('alarm','resident','staff')),
        source_key text,
        alarm_id text,
        incident_id text,
        device_id text,
        rule_id text,
        building_id text,
        micro_grid_id text,
        grid_id text,
        community_id text,
        street_id text,
        location jsonb NOT NULL DEFAULT '{}'::jsonb,
        reporter_id text,
        assignee_id text,
        escalation_level text NOT NULL DEFAULT 'grid' CHECK (escalation_level IN ('grid','community','street')),
        count integer NOT NULL DEFAULT 1,
        auto_close boolean NOT NULL DEFAULT false,
        verify_s integer NOT NULL DEFAULT 0,
        evidence jsonb NOT NULL DEFAULT '{}'::jsonb,
        photos jsonb NOT NULL DEFAULT '[]'::jsonb,
        accept_due timestamptz,
        resolve_due timestamptz,
        reminders integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL,
        accepted_at timestamptz,
        resolved_at timestamptz,
        closed_at timestamptz,
        rating jsonb,
        revisit jsonb,
        version integer NOT NULL DEFAULT 1
      );
      -- One open item per alarm or incident: repeats count on it, never a new item.
      CREATE UNIQUE INDEX work_items_one_open ON work_items(source_key) WHERE status NOT IN ('closed','rejected') AND source_key IS NOT NULL;
      CREATE INDEX work_items_status ON work_items(status);
      CREATE INDEX work_items_grid ON work_items(grid_id);
      CREATE INDEX work_items_device ON work_items(device_id);
      CREATE INDEX work_items_assignee ON work_items(assignee_id);

      CREATE TABLE work_item_events (
        item_id text NOT NULL REFERENCES work_items(id),
        seq integer NOT NULL,
        at timestamptz NOT NULL,
        actor_id text NOT NULL,
        actor_role text NOT NULL,
        action text NOT NULL,
        from_status text,
        to_status text,
        note text,
        photos jsonb NOT NULL DEFAULT '[]'::jsonb,
        data jsonb NOT NULL DEFAULT '{}'::jsonb,
        PRIMARY KEY (item_id, seq)
      );
      -- 操作留痕: the timeline is append-only in the store itself, whatever code runs against it.
      CREATE FUNCTION work_item_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'work item timeline is append-only';
      END
      $$;
      CREATE TRIGGER work_item_events_no_update BEFORE UPDATE OR DELETE ON work_item_events
        FOR EACH ROW EXECUTE FUNCTION work_item_events_append_only();
      CREATE TRIGGER work_item_events_no_truncate BEFORE TRUNCATE ON work_item_events
        FOR EACH STATEMENT EXECUTE FUNCTION work_item_events_append_only();

      -- 网格吹哨、部门报到: each whistled department reports in by its deadline and finishes its part.
      CREATE TABLE work_item_whistles (
        item_id text NOT NULL REFERENCES work_items(id),
        department text NOT NULL,
        whistled_at timestamptz NOT NULL,
        report_due timestamptz NOT NULL,
        reported_at timestamptz,
        finished_at timestamptz,
        late boolean NOT NULL DEFAULT false,
        PRIMARY KEY (item_id, department)
      );
    `,
  },
  {
    version: 4,
    name: 'readings seq as bigint, ingest journal checkpoints, dead-letter sizes',
    sql: `
      -- Firmware often sends a ms or µs clock as its sequence number: any non-negative safe integer.
      ALTER TABLE readings ALTER COLUMN seq TYPE bigint;

      -- How far each consumer of the ingest journal (ingest/journal.ts) has written: updated in the
      -- same statement as the rows it wrote, so a replay after a crash writes each record once.
      CREATE TABLE ingest_checkpoints (
        consumer text PRIMARY KEY,
        lsn bigint NOT NULL
      );

      -- What a dead letter weighs, for the size bound of the retention (DEAD_LETTERS_MAX_MB).
      ALTER TABLE dead_letters ADD COLUMN bytes integer NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 5,
    name: 'service-account deny filters, the admin audit trail, credential revocation',
    sql: `
      -- Topic filters a service account may never subscribe to, receive or publish on, inside what it may.
      ALTER TABLE service_accounts ADD COLUMN deny jsonb NOT NULL DEFAULT '[]';
      ALTER TABLE service_accounts ADD COLUMN revoked_at timestamptz;
      ALTER TABLE users ADD COLUMN revoked_at timestamptz;
      -- A resident's registered address(es): the buildings they may file 一键报修 for.
      ALTER TABLE users ADD COLUMN building_ids text[] NOT NULL DEFAULT '{}';

      -- Every administrative change, append-only in the store itself (as the work-item timeline is).
      CREATE TABLE audit_log (
        seq bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor_id text NOT NULL,
        actor_role text NOT NULL,
        action text NOT NULL,
        target_kind text NOT NULL,
        target_id text NOT NULL,
        before jsonb,
        after jsonb
      );
      CREATE INDEX audit_log_target ON audit_log(target_kind, target_id);
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'the audit trail is append-only';
      END
      $$;
      CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
    `,
  },
  {
    version: 6,
    name: 'community and street dispatchers, 事件上报 (patrol), uploaded photos',
    sql: `
      ALTER TABLE users DROP CONSTRAINT users_role_check;
      ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin','street_dispatcher','community_dispatcher','property_manager','grid_worker','property_staff','department','resident'));
      -- A street dispatcher's streets: they reach every community under them, as the tree is now.
      ALTER TABLE users ADD COLUMN street_ids text[] NOT NULL DEFAULT '{}';
      -- duty.grid_id holds any level's unit: a grid's worker, a community's or a street's dispatcher on duty.
      ALTER TABLE work_items DROP CONSTRAINT work_items_source_check;
      ALTER TABLE work_items ADD CONSTRAINT work_items_source_check CHECK (source IN ('alarm','resident','staff','patrol'));

      -- Uploaded photos: the bytes live under DATA_DIR/photos, named by id; the row says what they are.
      CREATE TABLE photos (
        id text PRIMARY KEY,
        content_type text NOT NULL,
        bytes integer NOT NULL,
        sha256 text NOT NULL,
        uploaded_by text NOT NULL,
        uploaded_at timestamptz NOT NULL DEFAULT now()
      );
      -- Which items hold a photo (on the item or in its timeline): who may see one of them may see it.
      CREATE TABLE work_item_photos (
        photo_id text NOT NULL REFERENCES photos(id),
        item_id text NOT NULL REFERENCES work_items(id),
        PRIMARY KEY (photo_id, item_id)
      );
    `,
  },
  {
    version: 7,
    name: 'contacts and notification preferences of people, the notifier role (flows/)',
    sql: `
      ALTER TABLE users DROP CONSTRAINT users_role_check;
      ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin','street_dispatcher','community_dispatcher','property_manager','grid_worker','property_staff','department','resident','notifier'));
      ALTER TABLE users ADD COLUMN phone text;
      ALTER TABLE users ADD COLUMN wecom_user_id text;
      ALTER TABLE users ADD COLUMN dingtalk_user_id text;
      -- NULL: every channel the person has an address on (README "Notifications").
      ALTER TABLE users ADD COLUMN channels text[];
      -- A resident is told of their own items' progress unless they say no.
      ALTER TABLE users ADD COLUMN notify_progress boolean NOT NULL DEFAULT true;
    `,
  },
  {
    version: 8,
    name: 'browser sessions (the console signs in once; its live event stream needs no header)',
    sql: `
      CREATE TABLE sessions (
        id_sha256 text PRIMARY KEY,
        -- 'admin' for the admin token.
        user_id text NOT NULL,
        -- The token it was opened with: a rotated or revoked token ends its sessions.
        token_sha256 text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX sessions_expiry ON sessions(expires_at);
    `,
  },
  {
    version: 9,
    name: 'device presence history (the device page shows when a device went online and offline)',
    sql: `
      CREATE TABLE device_presence (
        device_id text NOT NULL,
        at timestamptz NOT NULL,
        online boolean NOT NULL
      );
      CREATE INDEX device_presence_by_device ON device_presence(device_id, at DESC);
    `,
  },
  {
    version: 10,
    name: 'several nodes: the node a device is connected to, node heartbeats, leases, readings stored once',
    sql: `
      -- The node a device was last connected to; its disconnect only counts from there (a device that moved wins).
      ALTER TABLE devices ADD COLUMN node_id text;
      CREATE TABLE cluster_nodes (
        node_id text PRIMARY KEY,
        started_at timestamptz NOT NULL,
        seen_at timestamptz NOT NULL
      );
      -- One holder at a time (the work items' timers): taken and renewed with a deadline.
      CREATE TABLE leases (
        name text PRIMARY KEY,
        holder text NOT NULL,
        expires_at timestamptz NOT NULL
      );
      -- A reading resent to another node after its first node died is stored once (seq and ts the same).
      DELETE FROM readings a USING readings b
        WHERE a.seq IS NOT NULL AND a.device_id = b.device_id AND a.ts = b.ts AND a.seq = b.seq AND a.ctid > b.ctid;
      CREATE UNIQUE INDEX readings_once ON readings(device_id, ts, seq);
      DROP INDEX readings_device_ts;
    `,
  },
  {
    version: 11,
    name: 'readings packed: a device\'s readings of one write in one row',
    sql: `
      -- A row per reading cost the embedded store 13–16 µs each, more than all of MQTT (issue 20).
      -- A pack holds one device's readings of one kind from one write, in journal order: {ts (ms),
      -- seq, event, data, server_ts}. The view \`readings\` shows them a row each, as before.
      CREATE TABLE reading_packs (
        device_id text NOT NULL,
        type text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('telemetry','event')),
        ts_first timestamptz NOT NULL,
        ts_last timestamptz NOT NULL,
        n integer NOT NULL,
        readings json NOT NULL
      );
      INSERT INTO reading_packs (device_id, type, kind, ts_first, ts_last, n, readings)
        SELECT device_id, type, kind, ts, ts, 1,
          json_build_array(json_build_object('ts', round(extract(epoch FROM ts) * 1000)::float8, 'seq', seq, 'event', event, 'data', data, 'server_ts', server_ts))
        FROM readings;
      DROP TABLE readings;
      CREATE INDEX reading_packs_device ON reading_packs(device_id, ts_last);
      CREATE INDEX reading_packs_ts ON reading_packs(ts_last);
      CREATE VIEW readings AS
        SELECT p.device_id, p.type, to_timestamp(r.ts / 1000.0) AS ts, p.kind, r.event, r.seq, r.data, coalesce(r.server_ts, false) AS server_ts
        FROM reading_packs p, json_to_recordset(p.readings) AS r(ts float8, seq bigint, event text, data jsonb, server_ts boolean);
    `,
  },
];

/** The advisory lock migrations take (any number no other code of ours locks). */
const MIGRATION_LOCK = 727_001;

/** Applies the migrations not applied yet (up to `upTo`: a test of one migration on the schema before it). */
export async function migrate(db: Db, upTo = Infinity): Promise<number[]> {
  // Under the lock too: two nodes creating the table at once would collide in PostgreSQL's catalog.
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations');
  const done = new Set(rows.map((r) => r.version));
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version) || m.version > upTo) continue;
    // Several nodes starting on one PostgreSQL at once: one applies each migration, the others wait
    // for it (a lock held to the end of the transaction) and then find it done.
    const ran = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      if ((await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version])).rows.length) return false;
      for (const stmt of splitStatements(m.sql)) await tx.query(stmt);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (ran) applied.push(m.version);
  }
  return applied;
}

/**
 * Splits a migration into statements: at semicolons outside `$$ … $$` bodies (ours never put a
 * semicolon inside a string literal).
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  const parts = sql.replace(/--[^\n]*/g, '').split('$$');
  parts.forEach((part, i) => {
    if (i % 2 === 1) {
      current += `$$${part}$$`;
      return;
    }
    const pieces = part.split(';');
    current += pieces[0];
    for (const piece of pieces.slice(1)) {
      out.push(current);
      current = piece;
    }
  });
  out.push(current);
  return out.map((s) => s.trim()).filter(Boolean);
}
