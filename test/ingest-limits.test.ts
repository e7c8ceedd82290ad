import { afterAll, describe, expect, it } from 'vitest';
import { deadLetterTotalBytes, insertDeadLetters, pruneDeadLetters } from '../core/store/dead-letters.ts';
import { migrate } from '../core/store/migrations.ts';
import { openPglite } from '../core/store/pglite.ts';
import { listReadings } from '../core/store/readings.ts';
import { Dedup } from '../ingest/dedup.ts';
import { connectDevice, eventually, startTestPlatform, tempDir, type TestPlatform } from './helpers/platform.ts';


describe('duplicates', () => {
  it('remembers (device, seq) within its window, and tells a restarted counter from a resend', () => {
    const d = new Dedup(60_000);
    const t = 1_000_000;
    expect(d.isDuplicate('a', 5, t, t)).toBe(false);
    expect(d.isDuplicate('a', 5, t, t + 10)).toBe(true); // resent: same seq, same time
    expect(d.isDuplicate('b', 5, t, t + 10)).toBe(false); // another device
    for (let s = 6; s < 2000; s++) expect(d.isDuplicate('a', s, t + s, t + 20)).toBe(false);
    expect(d.isDuplicate('a', 1500, t + 1500, t + 30)).toBe(true); // within the last 1,024
    expect(d.isDuplicate('a', 3, undefined, t + 40)).toBe(false); // far below: the counter restarted
    expect(d.isDuplicate('a', 3, undefined, t + 50)).toBe(true);
    expect(d.isDuplicate('a', 4, t + 5000, t + 60)).toBe(false);
    expect(d.isDuplicate('a', 4, t + 9000, t + 70)).toBe(false); // seen, but newer than anything before: a new counter
    expect(d.isDuplicate('a', 4, t + 9000, t + 60_000 + 80)).toBe(false); // window passed
    d.sweep(t + 10 * 60_000);
    expect(d.size).toBe(0);
  });

  let p: TestPlatform | undefined;
  afterAll(() => p?.dispose());

  it('a reading resent after a reconnect is acknowledged again and stored once', async () => {
    p = await startTestPlatform();
    const c = p.cred('manhole-cover');
    const msg = JSON.stringify({ ts: Date.now(), seq: 77, props: { tiltDeg: 2 } });
    const first = await connectDevice(p, c);
    await first.publishAsync(`v1/manhole-cover/${c.id}/telemetry`, msg, { qos: 1 });
    await first.endAsync();
    const again = await connectDevice(p, c);
    await again.publishAsync(`v1/manhole-cover/${c.id}/telemetry`, msg, { qos: 1, dup: true });
    await again.publishAsync(`v1/manhole-cover/${c.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 78, props: { tiltDeg: 3 } }), { qos: 1 });
    await again.endAsync();
    const stored = await eventually(async () => {
      const r = await listReadings(p!.db, { deviceId: c.id });
      return r.some((x) => x.seq === 78) && r;
    }, 3000, 'readings stored');
    expect(stored.filter((r) => r.seq === 77)).toHaveLength(1);
    expect((await p.api('GET', '/api/v1/health')).body.ingest.duplicates).toBe(1);
  });
});

describe('dead-letter retention', () => {
  it('deletes dead letters past their age, then the oldest beyond the size bound', async () => {
    const dir = tempDir('sps-dl-');
    const db = await openPglite(dir);
    await migrate(db);
    const letter = (at: Date, i: number) => ({ at, deviceId: 'd', topic: 't', reason: 'invalid_json', detail: `#${i}`, payload: 'x'.repeat(900), payloadBytes: 900 });
    const old = new Date(Date.now() - 10 * 86_400_000);
    await insertDeadLetters(db, Array.from({ length: 50 }, (_, i) => letter(old, i)));
    await insertDeadLetters(db, Array.from({ length: 200 }, (_, i) => letter(new Date(), 100 + i)));
    const total = await deadLetterTotalBytes(db);
    expect(total).toBeGreaterThan(250 * 900);

    const byAge = await pruneDeadLetters(db, new Date(Date.now() - 7 * 86_400_000));
    expect(byAge.rows).toBe(50);
    const bySize = await pruneDeadLetters(db, new Date(Date.now() - 7 * 86_400_000), 100 * 1000);
    expect(bySize.rows).toBeGreaterThan(80);
    expect(await deadLetterTotalBytes(db)).toBeLessThanOrEqual(100 * 1000);
    // The newest are the ones kept.
    const { rows } = await db.query<{ detail: string }>('SELECT detail FROM dead_letters ORDER BY id DESC LIMIT 1');
    expect(rows[0]!.detail).toBe('#299');
    await db.close();
  });

  let p: TestPlatform | undefined;
  afterAll(() => p?.dispose());

  it('keeps the platform\'s dead letters within DEAD_LETTERS_MAX_MB however many a device sends', async () => {
    p = await startTestPlatform({ DEAD_LETTERS_MAX_MB: 0.1, MQTT_MAX_INVALID_PER_MIN: 100_000 });
    const c = p.cred('overflow-bin');
    const client = await connectDevice(p, c);
    const bad = `{"props": ${'x'.repeat(1500)}`;
    for (let i = 0; i < 600; i++) client.publish(`v1/overflow-bin/${c.id}/telemetry`, bad, { qos: 0 });
    await client.publishAsync(`v1/overflow-bin/${c.id}/telemetry`, bad, { qos: 1 });
    await eventually(async () => (await p!.api('GET', '/api/v1/health')).body.ingest.rejectedByReason.invalid_json === 601, 5000, 'all refused');
    await p.ingest.flush();
    const bound = 0.1 * 1024 * 1024;
    const kept = await eventually(async () => {
      const n = await deadLetterTotalBytes(p!.db);
      return n <= bound && n;
    }, 5000, 'dead letters within the bound');
    expect(kept).toBeGreaterThan(bound / 2);
    const health = (await p.api('GET', '/api/v1/health')).body;
    expect(health.ingest.deadLetters.pruned).toBeGreaterThan(0);
    expect(health.ingest.deadLetters.keptBytes).toBeLessThanOrEqual(bound);
    await client.endAsync();
  });
});
