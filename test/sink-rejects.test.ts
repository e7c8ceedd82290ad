import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { listDeadLetters } from '../core/store/dead-letters.ts';
import { migrate } from '../core/store/migrations.ts';
import { openPglite } from '../core/store/pglite.ts';
import { readCheckpoint } from '../core/store/checkpoints.ts';
import { countReadingsByType, type Reading } from '../core/store/readings.ts';
import { InfluxSink } from '../ingest/influx/sink.ts';
import { EmbeddedSink } from '../ingest/sink.ts';
import { WriteBuffer } from '../ingest/write-buffer.ts';
import { connectDevice, eventually, startTestPlatform, tempDir, type TestPlatform } from './helpers/platform.ts';

/**
 * A store that refuses one reading, as PostgreSQL does for a value it cannot hold (class 22: data
 * exception): any row (a device's pack of readings) that holds seq 1234 of that device.
 */
const REFUSE_ONE = `
  CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NEW.device_id = current_setting('test.refuse_device', true) AND EXISTS (SELECT 1 FROM json_to_recordset(NEW.readings) AS r(seq bigint) WHERE r.seq = 1234) THEN
      RAISE EXCEPTION 'test store refuses this row' USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
  END $$;
  CREATE TRIGGER refuse_one BEFORE INSERT ON reading_packs FOR EACH ROW EXECUTE FUNCTION refuse_one();`;

const reading = (deviceId: string, seq: number, lsn: number): Reading => ({ deviceId, type: 'smoke-detector', ts: Date.now(), kind: 'telemetry', seq, data: { smokeDbPerM: 0.01 }, serverTs: false, lsn });


describe('a row the store refuses does not block the others', () => {
  it('a 5,000-row batch with one refused row: 4,999 stored, the one rejected with the store\'s error, the checkpoint past all', async () => {
    const dir = tempDir('sps-reject-');
    const db = await openPglite(dir);
    await migrate(db);
    await db.exec(REFUSE_ONE.replace("current_setting('test.refuse_device', true)", "'d-bad'"));
    const sink = new EmbeddedSink(db);
    const rejected: { item: Reading; err: Error }[] = [];
    let writes = 0;
    const buf = new WriteBuffer<Reading>(async (batch) => {
      writes++;
      await sink.write(batch, batch[batch.length - 1]!.lsn!);
    }, { name: 't', log: pino({ level: 'silent' }), maxBatch: 5000, flushMs: 10, highWater: 10_000, reject: async (item, err) => {
      rejected.push({ item, err });
      await sink.write([], item.lsn!);
    } });
    for (let i = 0; i < 5000; i++) buf.add(reading(i === 1234 ? 'd-bad' : 'd-good', i, i + 1));
    await buf.flush();
    await sink.close();
    expect(await countReadingsByType(db)).toEqual({ 'smoke-detector': 4999 });
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.item).toMatchObject({ deviceId: 'd-bad', seq: 1234 });
    expect(rejected[0]!.err.message).toContain('test store refuses this row');
    expect(await readCheckpoint(db, 'sink:embedded')).toBe(5000);
    // Bisection, not one statement per row: about 2·log2(5000) writes.
    expect(writes).toBeLessThan(40);
    const status = buf.status();
    expect(status).toMatchObject({ pending: 0, rejected: 1, rejectedRecently: 1, retrying: false });
    await db.close();
  });
});

describe('through the platform', () => {
  let p: TestPlatform | undefined;
  afterAll(() => p?.dispose());

  it('4,999 of 5,000 acknowledged readings stored, one dead-lettered as sink_rejected; health degraded, naming the sink and the reason, then ok', async () => {
    p = await startTestPlatform({ HEALTH_REJECTIONS_WINDOW_S: 2 });
    const [a, b] = [p.cred('smoke-detector', 1), p.cred('smoke-detector', 2)];
    await p.db.exec(REFUSE_ONE.replace("current_setting('test.refuse_device', true)", `'${b.id}'`));
    const clients = await Promise.all([connectDevice(p, a), connectDevice(p, b)]);
    const ts = Date.now();
    await Promise.all(
      clients.flatMap((client, d) =>
        Array.from({ length: 2500 }, (_, seq) => client.publishAsync(`v1/smoke-detector/${[a, b][d]!.id}/telemetry`, JSON.stringify({ ts, seq, props: { smokeDbPerM: 0.01 } }), { qos: 1 })),
      ),
    );
    const letter = await eventually(async () => (await listDeadLetters(p!.db, { reason: 'sink_rejected' }))[0], 5000, 'sink_rejected dead letter');
    expect(letter).toMatchObject({ deviceId: b.id, topic: `v1/smoke-detector/${b.id}/telemetry` });
    expect(letter.detail).toContain('embedded');
    expect(letter.detail).toContain('test store refuses this row');
    // The reading itself is kept in the letter: nothing is lost.
    expect(JSON.parse(letter.payload!)).toMatchObject({ deviceId: b.id, seq: 1234, data: { smokeDbPerM: 0.01 } });
    await eventually(async () => (await countReadingsByType(p!.db))['smoke-detector'] === 4999, 5000, '4,999 readings stored');

    const degraded = (await p.api('GET', '/api/v1/health')).body;
    expect(degraded.status).toBe('degraded');
    expect(degraded.problems.join('\n')).toMatch(/sink embedded: refused 1 readings? .*test store refuses this row/);
    expect(degraded.ingest.sinks.embedded).toMatchObject({ rejected: 1, pending: 0 });
    expect(degraded.ingest.rejectedByReason.sink_rejected).toBe(1);
    const ok = await eventually(async () => {
      const h = (await p!.api('GET', '/api/v1/health')).body;
      return h.status === 'ok' && h;
    }, 6000, 'health ok again');
    expect(ok.problems).toEqual([]);
    for (const c of clients) await c.endAsync();
  });
});

describe('the InfluxDB spool', () => {
  it('a spooled point the server later refuses is handed to ingest as sink_rejected; the others are written', async () => {
    const dir = tempDir('sps-spool-');
    const written: string[] = [];
    let away = true;
    // A server that is away at first, then refuses the one point with a bad value (HTTP 400), as InfluxDB does.
    const writer = {
      name: 'influx-test',
      async write(lines: string[]) {
        if (away) throw new Error('connect ECONNREFUSED');
        if (lines.some((l) => l.includes('bad=1'))) throw Object.assign(new Error('HTTP 400 field type conflict'), { statusCode: 400 });
        written.push(...lines);
      },
      async close() {},
    };
    const sink = new InfluxSink({ writer, tags: () => undefined, spoolDir: dir, log: pino({ level: 'silent' }), retryMs: 20 });
    const refused: { payload: string; err: Error }[] = [];
    sink.refused = (payload, err) => void refused.push({ payload, err });
    await sink.send(['m good=1 1', 'm bad=1 2', 'm good=2 3']);
    expect(sink.backlog).toBe(3);
    away = false;
    await sink.flush(5000);
    expect(written).toEqual(['m good=1 1', 'm good=2 3']);
    expect(refused.map((r) => r.payload)).toEqual(['m bad=1 2']);
    expect(refused[0]!.err.message).toContain('400');
    expect(sink.backlog).toBe(0);
    await sink.close();
  });
});
