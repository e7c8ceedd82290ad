/**
 * `npm run bench:store`: what the embedded store costs per reading, the platform's way against a
 * row per reading (issue 20: at QoS 1 the whole platform should use at most 2× Mosquitto's CPU per
 * message, ~30–36 µs here, and one PGlite row per reading took about half of that). PGlite
 * in-thread, on a store created first (as the platform does), ~83-byte telemetry:
 * - `insertReadings` (core/store/readings.ts): a device's readings of one write in one row, with
 *   2 (2,000 readings from 1,000 devices a write) and 20 (20,000) a device;
 * - a row per reading, as before migration 11 (the same columns and indexes, unnest; and COPY).
 * Wall and CPU µs per reading (CPU includes PGlite's JS side). A figure for one part, beside
 * `bench:platform`'s, never instead.
 *
 * Options: --readings N (100,000 per way).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { migrate } from '../core/store/migrations.ts';
import { openPglite } from '../core/store/pglite.ts';
import { pgliteOptions } from '../core/store/pglite-settings.mjs';
import { insertReadings, type Reading } from '../core/store/readings.ts';
import { printTable, writeReport } from './report.ts';

const { values } = parseArgs({ options: { readings: { type: 'string', default: '100000' } } });
const READINGS = Number(values.readings);
const DEVICES = 1000;
const props = { smokeDbPerM: 0.012, temperatureC: 21.5 };

const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-bench-store-'));
type Result = { way: string; perWrite: number; wallUs: number; cpuUs: number };
const results: Result[] = [];

/** Times `write(batch)` over READINGS readings from DEVICES devices, `perWrite` a write: µs per reading. */
async function measure(way: string, perWrite: number, write: (batch: Reading[]) => Promise<void>): Promise<void> {
  const t = Date.now();
  let seq = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let b = 0; b < READINGS / perWrite; b++) {
    const batch: Reading[] = Array.from({ length: perWrite }, (_, i) => ({ deviceId: `bb${i % 10}-smoke-detector-${i % DEVICES}`, type: 'smoke-detector', ts: t + b * 1000 + Math.floor(i / DEVICES), kind: 'telemetry', seq: seq++, data: props, serverTs: false, lsn: seq }));
    await write(batch);
  }
  const cpu = process.cpuUsage(cpu0);
  results.push({ way, perWrite, wallUs: ((performance.now() - t0) * 1000) / READINGS, cpuUs: (cpu.user + cpu.system) / READINGS });
  console.error(`  ${way}: ${results.at(-1)!.wallUs.toFixed(2)} µs/reading`);
}

const copyLine = (r: Reading) => `${r.deviceId}\t${r.type}\t${new Date(r.ts).toISOString()}\t${r.kind}\t\\N\t${r.seq}\t${JSON.stringify(r.data)}\tf\n`;

try {
  // The platform's schema, created in a thread-less store first (initdb's memory is not measured),
  // and beside it the table a row per reading went to before migration 11, with its indexes.
  const store = path.join(dir, 'store');
  const db = await openPglite(store);
  await migrate(db);
  await db.exec(`CREATE TABLE rows_before (device_id text NOT NULL, type text NOT NULL, ts timestamptz NOT NULL, kind text NOT NULL CHECK (kind IN ('telemetry','event')), event text, seq bigint, data jsonb NOT NULL, server_ts boolean NOT NULL DEFAULT false);
    CREATE INDEX ON rows_before (ts); CREATE UNIQUE INDEX ON rows_before (device_id, ts, seq);`);
  await db.close();

  const pg = await PGlite.create(store, pgliteOptions());
  const q = { query: async (sql: string, params?: unknown[]) => ({ rows: (await pg.query(sql, params)).rows as never[] }) };
  const rowsBefore = (batch: Reading[]) => pg.query(`INSERT INTO rows_before (device_id, type, ts, kind, event, seq, data, server_ts)
     SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::bigint[], $7::jsonb[], $8::boolean[])`,
    [batch.map((r) => r.deviceId), batch.map((r) => r.type), batch.map((r) => new Date(r.ts).toISOString()), batch.map((r) => r.kind), batch.map(() => null), batch.map((r) => r.seq), batch.map((r) => JSON.stringify(r.data)), batch.map(() => false)]).then(() => undefined);
  await measure('a row per reading (before migration 11, unnest)', 2000, rowsBefore);
  await measure('a row per reading, COPY', 2000, (batch) => pg.query(`COPY rows_before (device_id, type, ts, kind, event, seq, data, server_ts) FROM '/dev/blob'`, [], { blob: new Blob([batch.map(copyLine).join('')]) }).then(() => undefined));
  for (const perWrite of [2000, 20_000]) {
    await measure(`insertReadings (the platform), ${perWrite / DEVICES} readings a device a write`, perWrite, (batch) => insertReadings(q, batch, { consumer: 'bench', lsn: batch.at(-1)!.lsn! }));
  }
  await pg.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const base = results[0]!;
printTable(`store: PGlite µs per reading, ${READINGS.toLocaleString()} readings from ${DEVICES.toLocaleString()} devices`, results.map((r) => [r.way, `${r.wallUs.toFixed(2)} wall · ${r.cpuUs.toFixed(2)} CPU µs/reading (${(r.wallUs / base.wallUs).toFixed(2)}× a row per reading)`]));
writeReport(
  'store',
  `Embedded store: µs per reading, ${READINGS.toLocaleString()} readings from ${DEVICES.toLocaleString()} devices`,
  { readings: READINGS, devices: DEVICES, results },
  `PGlite in-thread, on a store created first, ~83-byte telemetry. CPU includes PGlite's JS side. One part's figure, beside \`bench:platform\`'s.\n\n| way | readings a write | wall µs/reading | CPU µs/reading | against a row per reading |\n| --- | --- | --- | --- | --- |\n${results.map((r) => `| ${r.way} | ${r.perWrite.toLocaleString()} | ${r.wallUs.toFixed(2)} | ${r.cpuUs.toFixed(2)} | ${(r.wallUs / base.wallUs).toFixed(2)}× |`).join('\n')}`,
);
process.exit(0);
