import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../core/store/db.ts';
import { migrate } from '../core/store/migrations.ts';
import { countReadingsByType, insertReadings, listReadings, pruneReadings, type Reading } from '../core/store/readings.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openTestStore } from './helpers/store.ts';

/**
 * The embedded time series packs a device's readings of one write into one row (issue 20). What
 * reads them must not be able to tell: the newest N, by the devices' own times, whatever order and
 * whichever writes they came in; filters by kind and time; counts; pruning; and the rows stored
 * before the change.
 */
const T0 = Date.UTC(2026, 11, 1, 8, 0, 0);
const dirs: string[] = [];
const freshStore = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-packs-'));
  dirs.push(dir);
  return openTestStore(dir);
};
let db: Db;
beforeAll(async () => {
  db = await freshStore();
  await migrate(db);
});
afterAll(async () => {
  await db?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A deterministic shuffle: devices send late and out of order. */
function scrambled(n: number, seed: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  let x = seed;
  for (let i = n - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('packed readings', () => {
  const all: Reading[] = [];

  it('the newest N of a device, by its own times, across writes that overlap in time', async () => {
    // 3 devices, 600 readings each; written in 7 calls of arbitrary size, times shuffled, events mixed in.
    const order = scrambled(1800, 7);
    for (const i of order) {
      const dev = `pk-${i % 3}`;
      const event = i % 10 === 0;
      all.push({ deviceId: dev, type: 'smoke-detector', ts: T0 + Math.floor(i / 3) * 1000 + (i % 7), kind: event ? 'event' : 'telemetry', event: event ? 'tamper' : undefined, seq: i, data: event ? { cause: `c${i}` } : { smokeDbPerM: i / 10_000, alarm: i % 2 === 0 }, serverTs: i % 11 === 0 });
    }
    const cuts = [0, 13, 250, 251, 900, 1333, 1799, 1800];
    for (let c = 0; c < cuts.length - 1; c++) await insertReadings(db, all.slice(cuts[c], cuts[c + 1]), { consumer: 'packs', lsn: cuts[c + 1]! });

    const newest = (f: (r: Reading) => boolean, n: number) => all.filter(f).sort((a, b) => b.ts - a.ts).slice(0, n);
    const shape = (r: { deviceId: string; ts: Date | number; kind: string; event?: string | null; seq?: number | null; data: unknown; serverTs: boolean }) => ({ deviceId: r.deviceId, ts: typeof r.ts === 'number' ? r.ts : r.ts.getTime(), kind: r.kind, event: r.event ?? null, seq: r.seq ?? null, data: r.data, serverTs: r.serverTs });
    for (const n of [1, 5, 100, 599, 600, 5000]) {
      expect((await listReadings(db, { deviceId: 'pk-1', limit: n })).map(shape), `newest ${n}`).toEqual(newest((r) => r.deviceId === 'pk-1', n).map(shape));
    }
    expect((await listReadings(db, { deviceId: 'pk-2', kind: 'event', limit: 7 })).map(shape)).toEqual(newest((r) => r.deviceId === 'pk-2' && r.kind === 'event', 7).map(shape));
    const since = new Date(T0 + 450_000);
    expect((await listReadings(db, { deviceId: 'pk-0', kind: 'telemetry', since, limit: 10_000 })).map(shape)).toEqual(newest((r) => r.deviceId === 'pk-0' && r.kind === 'telemetry' && r.ts >= since.getTime(), 10_000).map(shape));
    expect((await listReadings(db, { limit: 50 })).map((r) => r.ts.getTime())).toEqual(newest(() => true, 50).map((r) => r.ts));
    expect(await countReadingsByType(db)).toEqual({ 'smoke-detector': 1800 });
    // Fewer rows than readings: that is the point.
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM reading_packs');
    expect(rows[0]!.n).toBeLessThan(1800 / 10);
    // The view shows a row per reading, for SQL written against the table it replaced.
    const view = await db.query<{ n: number; seqs: number }>("SELECT count(*)::int AS n, count(DISTINCT seq)::int AS seqs FROM readings WHERE device_id LIKE 'pk-%'");
    expect(view.rows[0]).toEqual({ n: 1800, seqs: 1800 });
  });

  it('once (cluster mode): a reading already stored, or twice in one write, is stored once; readings without seq are all kept', async () => {
    const dev = 'pk-once';
    const r = (seq: number | undefined, ts: number): Reading => ({ deviceId: dev, type: 'manhole-cover', ts, kind: 'telemetry', seq, data: { tiltDeg: 1 }, serverTs: false });
    await db.transaction((tx) => insertReadings(tx, [r(1, T0), r(2, T0 + 1), r(undefined, T0 + 2)], undefined, { once: true }));
    await db.transaction((tx) => insertReadings(tx, [r(2, T0 + 1), r(3, T0 + 3), r(3, T0 + 3), r(undefined, T0 + 2), r(2, T0 + 99)], undefined, { once: true }));
    const stored = await listReadings(db, { deviceId: dev, limit: 100 });
    expect(stored.map((s) => [s.seq, s.ts.getTime() - T0])).toEqual([[2, 99], [3, 3], [null, 2], [null, 2], [2, 1], [1, 0]]);
  });

  it('prunes by the retention window and says how many readings went', async () => {
    const total = async () => Object.values(await countReadingsByType(db)).reduce((x, y) => x + y, 0);
    const before = await total();
    const cut = new Date(T0 + 300_000);
    const gone = await pruneReadings(db, cut);
    expect(gone).toBe(before - (await total()));
    // A pack goes once its newest reading is past the window (at most a write's worth stays a
    // little longer); nothing inside the window goes.
    expect(gone).toBeGreaterThan(0);
    expect(gone).toBeLessThanOrEqual(all.filter((r) => r.ts < cut.getTime()).length + 6);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM reading_packs WHERE ts_last < $1', [cut.toISOString()]);
    expect(rows[0]!.n).toBe(0);
    for (const dev of ['pk-0', 'pk-1', 'pk-2']) expect((await listReadings(db, { deviceId: dev, since: cut, limit: 10_000 })).length, dev).toBe(all.filter((r) => r.deviceId === dev && r.ts >= cut.getTime()).length);
  });
});

describe('migration 11', () => {
  it('turns the rows stored before it into packs, nothing lost or changed', async () => {
    const old = await freshStore();
    try {
      await migrate(old, 10);
      await old.query(`INSERT INTO readings (device_id, type, ts, kind, event, seq, data, server_ts) VALUES
        ('m-1', 'smoke-detector', '2026-12-01T08:00:00.123Z', 'telemetry', NULL, 5, '{"smokeDbPerM":0.02}', false),
        ('m-1', 'smoke-detector', '2026-12-01T08:00:01.456Z', 'event', 'tamper', NULL, '{}', true),
        ('m-2', 'overflow-bin', '2026-12-01T08:00:02Z', 'telemetry', NULL, 9007199254740991, '{"fillPct":80}', false)`);
      await migrate(old);
      const shape = (r: Awaited<ReturnType<typeof listReadings>>[number]) => ({ ...r, ts: r.ts.toISOString() });
      expect((await listReadings(old, { limit: 10 })).map(shape)).toEqual([
        { deviceId: 'm-2', type: 'overflow-bin', ts: '2026-12-01T08:00:02.000Z', kind: 'telemetry', event: null, seq: 9007199254740991, data: { fillPct: 80 }, serverTs: false },
        { deviceId: 'm-1', type: 'smoke-detector', ts: '2026-12-01T08:00:01.456Z', kind: 'event', event: 'tamper', seq: null, data: {}, serverTs: true },
        { deviceId: 'm-1', type: 'smoke-detector', ts: '2026-12-01T08:00:00.123Z', kind: 'telemetry', event: null, seq: 5, data: { smokeDbPerM: 0.02 }, serverTs: false },
      ]);
    } finally {
      await old.close();
    }
  });
});
