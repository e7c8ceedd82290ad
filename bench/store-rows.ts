/**
 * `npm run bench:store`: what the embedded store costs per reading, the platform's way and the ways
 * it could be (issue 20: at QoS 1 the whole platform should use at most 2× Mosquitto's CPU per
 * message, ~30–36 µs here, and one PGlite row per reading takes about half of that). PGlite
 * in-thread, on a store created first (as the platform does), 2,000 readings per write, ~83-byte
 * telemetry:
 * - `insertReadings` (core/store/readings.ts) into the platform's own schema: what ingest does;
 * - COPY into the same table;
 * - readings packed into one row, 2 and 20 a row, jsonb and text.
 * Wall and CPU µs per reading (CPU includes PGlite's JS side). A figure for one part, beside
 * `bench:platform`'s, never instead.
 *
 * Options: --batches N (50).
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

const { values } = parseArgs({ options: { batches: { type: 'string', default: '50' } } });
const BATCHES = Number(values.batches);
const PER_BATCH = 2000;
const DEVICES = 1000;
const props = { smokeDbPerM: 0.012, temperatureC: 21.5 };

const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-bench-store-'));
type Result = { way: string; wallUs: number; cpuUs: number };
const results: Result[] = [];

/** Times `write(batch)` over BATCHES batches of readings: µs per reading. */
async function measure(way: string, write: (batch: Reading[], b: number) => Promise<void>): Promise<void> {
  const t = Date.now();
  let seq = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let b = 0; b < BATCHES; b++) {
    const batch: Reading[] = Array.from({ length: PER_BATCH }, (_, i) => ({ deviceId: `bb${i % 10}-smoke-detector-${i % DEVICES}`, type: 'smoke-detector', ts: t + b * 100 + Math.floor(i / DEVICES), kind: 'telemetry', seq: seq++, data: props, serverTs: false, lsn: seq }));
    await write(batch, b);
  }
  const cpu = process.cpuUsage(cpu0);
  const n = BATCHES * PER_BATCH;
  results.push({ way, wallUs: ((performance.now() - t0) * 1000) / n, cpuUs: (cpu.user + cpu.system) / n });
  console.error(`  ${way}: ${results.at(-1)!.wallUs.toFixed(2)} µs/reading`);
}

const copyLine = (r: Reading) => `${r.deviceId}\t${r.type}\t${new Date(r.ts).toISOString()}\t${r.kind}\t\\N\t${r.seq}\t${JSON.stringify(r.data)}\tf\n`;

/** A batch as rows of `perRow` readings each (JSON arrays), with their row keys. */
function packed(batch: Reading[], perRow: number): { ids: string[]; docs: string[] } {
  const ids: string[] = [];
  const docs: string[] = [];
  for (let i = 0; i < batch.length; i += perRow) {
    ids.push(batch[i]!.deviceId);
    docs.push(JSON.stringify(batch.slice(i, i + perRow).map((r) => ({ ts: r.ts, seq: r.seq, p: r.data }))));
  }
  return { ids, docs };
}

try {
  // The platform's schema, created in a thread-less store first (initdb's memory is not measured).
  const store = path.join(dir, 'store');
  const db = await openPglite(store);
  await migrate(db);
  await db.exec(`CREATE TABLE packed_jsonb (device_id text NOT NULL, ts_first timestamptz NOT NULL, n int NOT NULL, data jsonb NOT NULL);
    CREATE INDEX ON packed_jsonb (device_id, ts_first); CREATE INDEX ON packed_jsonb (ts_first);
    CREATE TABLE packed_text (device_id text NOT NULL, ts_first timestamptz NOT NULL, n int NOT NULL, data text NOT NULL);
    CREATE INDEX ON packed_text (device_id, ts_first); CREATE INDEX ON packed_text (ts_first);`);
  await db.close();

  const pg = await PGlite.create(store, pgliteOptions());
  const q = { query: async (sql: string, params?: unknown[]) => ({ rows: (await pg.query(sql, params)).rows as never[] }) };
  await measure('insertReadings (the platform: a row per reading, unnest)', (batch) => insertReadings(q, batch, { consumer: 'bench', lsn: batch.at(-1)!.lsn! }));
  await measure('COPY, a row per reading', (batch) => pg.query(`COPY readings (device_id, type, ts, kind, event, seq, data, server_ts) FROM '/dev/blob'`, [], { blob: new Blob([batch.map(copyLine).join('')]) }).then(() => undefined));
  // What a row costs depends on how many readings it holds, not whose: consecutive readings share one.
  for (const perRow of [2, 20]) {
    for (const kind of ['jsonb', 'text'] as const) {
      await measure(`${perRow} readings a row, ${kind}`, async (batch) => {
        const { ids, docs } = packed(batch, perRow);
        await pg.query(`INSERT INTO packed_${kind} (device_id, ts_first, n, data) SELECT d, now(), ${perRow}, j FROM unnest($1::text[], $2::${kind}[]) AS u(d, j)`, [ids, docs]);
      });
    }
  }
  await pg.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const base = results[0]!;
printTable(`store: PGlite µs per reading, ${PER_BATCH} readings a write, ${BATCHES} writes`, results.map((r) => [r.way, `${r.wallUs.toFixed(2)} wall · ${r.cpuUs.toFixed(2)} CPU µs/reading (${(r.wallUs / base.wallUs).toFixed(2)}× the platform's)`]));
writeReport(
  'store',
  `Embedded store: µs per reading, ${PER_BATCH} readings a write`,
  { batches: BATCHES, perBatch: PER_BATCH, results },
  `PGlite in-thread, on a store created first, ~83-byte telemetry. CPU includes PGlite's JS side. One part's figure, beside \`bench:platform\`'s.\n\n| way | wall µs/reading | CPU µs/reading | against the platform's |\n| --- | --- | --- | --- |\n${results.map((r) => `| ${r.way} | ${r.wallUs.toFixed(2)} | ${r.cpuUs.toFixed(2)} | ${(r.wallUs / base.wallUs).toFixed(2)}× |`).join('\n')}`,
);
process.exit(0);
