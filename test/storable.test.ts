import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../core/store/db.ts';
import { insertDeadLetters, listDeadLetters } from '../core/store/dead-letters.ts';
import { migrate } from '../core/store/migrations.ts';
import { openTestStore } from './helpers/store.ts';
import { insertReadings, listReadings, type Reading } from '../core/store/readings.ts';
import { loadCatalog } from '../rules/catalog.ts';
import type { PropSpec } from '../devices/lib/props.ts';
import { toLine } from '../ingest/influx/line-protocol.ts';
import { validateAck } from '../ingest/ack.ts';
import { validateMessage } from '../ingest/validate.ts';
import { haveBinary, INFLUXD, influxQL, servicesRequired, startInfluxDB1, type Service } from './helpers/services.ts';

/**
 * Nothing validation accepts is refused downstream: random and hostile payloads for every property
 * of every type go through validation, and everything it accepts goes to the real store (PGlite)
 * and, where influxd is installed, to a real InfluxDB; everything it refuses goes to the dead
 * letters, which must always be writable too.
 */
const catalog = await loadCatalog();
const NOW = Date.now();
const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-storable-'));
let db: Db;
let influx: Service | undefined;
const haveInflux = haveBinary(INFLUXD);
if (!haveInflux) {
  if (servicesRequired) throw new Error(`${INFLUXD} is required (CI=true or REQUIRE_SERVICES=1): apt-get install influxdb`);
  console.error(`!!! ${INFLUXD} not found: accepted readings are checked against the store only, not InfluxDB (apt-get install influxdb)`);
}

beforeAll(async () => {
  db = await openTestStore(path.join(dir, 'store'));
  await migrate(db);
  if (haveInflux) influx = await startInfluxDB1();
}, 60_000);
afterAll(async () => {
  await db?.close();
  await influx?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Values that have broken stores and sinks before (NOTES) or are simply hostile. */
const hostileNumbers = [2 ** 31, 2 ** 31 - 1, 10000000057613, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, -1, -0, 1.5, 1e308, -1e308, 5e-324, 1764600000, 0];
const hostileStrings = ['\u0000', 'a\u0000b', '\ud800', 'x\udc00y', '\ud83d\ude00', 'line\nbreak', 'tab\t', '"quoted" \\ back', 'https://x.example/\u0000.jpg', 'https://x.example/a\nb.jpg', 'javascript:alert(1)', 'file:///etc/passwd', 'data:image/png;base64,AAAA', 'ftp://x.example/a', 'https://x.example/' + 'a'.repeat(3000), 'https://例子.测试/抓拍.jpg', 'https://x.example/a b.jpg', ''];
const deep = (n: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = { v };
  return v;
};

const anyJson = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, [], {}, deep(50)),
  fc.constantFrom(...hostileNumbers),
  fc.constantFrom(...hostileStrings),
  fc.double(),
  fc.integer(),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

function valueOf(spec: PropSpec): fc.Arbitrary<unknown> {
  switch (spec.kind) {
    case 'number':
      return fc.oneof(
        { weight: 12, arbitrary: spec.integer ? fc.integer({ min: Math.ceil(spec.min), max: Math.floor(spec.max) }) : fc.double({ min: spec.min, max: spec.max, noNaN: true }) },
        { weight: 1, arbitrary: fc.constantFrom(spec.min, spec.max, spec.min - 1e-9, spec.max + 1e-9) },
        { weight: 1, arbitrary: anyJson },
      );
    case 'boolean':
      return fc.oneof({ weight: 12, arbitrary: fc.boolean() }, { weight: 1, arbitrary: anyJson });
    case 'string':
      return fc.oneof(
        { weight: 6, arbitrary: spec.format === 'url' ? fc.webUrl() : fc.string({ maxLength: spec.maxLength }) },
        { weight: 1, arbitrary: fc.constantFrom(...hostileStrings) },
        { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map((s) => (spec.format === 'url' ? `https://x.example/${s}` : s)) },
        { weight: 1, arbitrary: anyJson },
      );
  }
}

const envelopeNumber = fc.oneof(
  { weight: 8, arbitrary: fc.oneof(fc.constantFrom(NOW, NOW - 60_000, ...hostileNumbers), fc.nat(), fc.maxSafeNat()) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), anyJson) },
);
const hostileKey = fc.oneof(fc.constantFrom('\u0000', 'a\u0000', '__proto__', 'constructor', 'toString', '\ud800', ''), fc.string({ unit: 'binary', maxLength: 8 }));

function message(props: Record<string, PropSpec>): fc.Arbitrary<Record<string, unknown>> {
  const known = fc.record(Object.fromEntries(Object.entries(props).map(([k, spec]) => [k, valueOf(spec)])), { requiredKeys: [] });
  return fc.record(
    {
      ts: envelopeNumber,
      seq: envelopeNumber,
      props: fc.tuple(known, fc.option(fc.dictionary(hostileKey, anyJson, { maxKeys: 2 }), { freq: 5 })).map(([k, extra]) => ({ ...k, ...(extra ?? {}) })),
    },
    { requiredKeys: ['props'] },
  );
}

function eventMessage(events: Record<string, Record<string, PropSpec>>): fc.Arbitrary<Record<string, unknown>> {
  const names = Object.keys(events);
  return fc.constantFrom(...names).chain((event) =>
    fc.record(
      {
        ts: envelopeNumber,
        seq: envelopeNumber,
        event: fc.oneof({ weight: 6, arbitrary: fc.constant<unknown>(event) }, { weight: 1, arbitrary: fc.constantFrom<unknown>('\u0000', `${event}\u0000`, 'toString', 7) }),
        data: fc.record(Object.fromEntries(Object.entries(events[event]!).map(([k, spec]) => [k, valueOf(spec)])), { requiredKeys: Object.keys(events[event]!) }),
      },
      { requiredKeys: ['event', 'data'] },
    ),
  );
}

/** The wire form: JSON as a device sends it, or now and then raw bytes that are no JSON at all. */
const wire = (msg: fc.Arbitrary<Record<string, unknown>>) =>
  fc.oneof({ weight: 9, arbitrary: msg.map((m) => Buffer.from(JSON.stringify(m))) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) });

describe('validation and the stores agree', () => {
  it('everything validation accepts is written by the store and InfluxDB; everything it refuses is dead-lettered', async () => {
    const accepted: Reading[] = [];
    const letters: Parameters<typeof insertDeadLetters>[1] = [];
    const reasons = new Map<string, number>();
    for (const type of catalog.types.values()) {
      const kinds: ['telemetry' | 'event', fc.Arbitrary<Buffer>][] = [['telemetry', wire(message(type.definition.props))]];
      if (Object.keys(type.definition.events).length) kinds.push(['event', wire(eventMessage(type.definition.events))]);
      for (const [kind, payloads] of kinds) {
        for (const payload of fc.sample(payloads, { numRuns: 1500, seed: 12 })) {
          const v = validateMessage(type, `dev-${type.id}`, kind, payload, NOW, 16_384);
          if (v.ok) accepted.push(v.reading);
          else {
            reasons.set(v.reason, (reasons.get(v.reason) ?? 0) + 1);
            letters.push({ at: new Date(NOW), deviceId: `dev-${type.id}`, topic: `v1/${type.id}/\u0000/${kind}`, reason: v.reason, detail: v.detail, payload: payload.toString('utf8'), payloadBytes: payload.length });
          }
        }
      }
    }
    // Both sides are well exercised: plenty accepted, and refusals for the reasons that matter here.
    console.info(`storable fuzz: ${accepted.length} accepted, refused ${JSON.stringify(Object.fromEntries(reasons))}`);
    expect(accepted.length).toBeGreaterThan(2000);
    for (const reason of ['invalid_text', 'out_of_range', 'wrong_type', 'unknown_property', 'invalid_json', 'invalid_value']) expect(reasons.get(reason), reason).toBeGreaterThan(0);

    // One statement per 500, as the sink writes them: any refusal would throw.
    for (let i = 0; i < accepted.length; i += 500) await insertReadings(db, accepted.slice(i, i + 500), { consumer: 'fuzz', lsn: i }, { once: true });
    const stored = await listReadings(db, { limit: 100_000 });
    // A reading with the (device, ts, seq) of one before is a resend, stored once (insertReadings' once, as
    // the sink writes in a cluster); the fuzz repeats small seqs at the same time often. Readings
    // without seq are all kept.
    const distinct = new Set(accepted.map((r, i) => (r.seq === undefined ? `#${i}` : `${r.deviceId}|${r.ts}|${r.seq}`)));
    expect(distinct.size).toBeGreaterThan(1000);
    expect(stored.length).toBe(distinct.size);
    // seq comes back as the integer that was sent, also past 2^31.
    const seqs = new Set(accepted.map((r) => r.seq).filter((s) => s !== undefined));
    expect([...seqs].some((s) => s! > 2 ** 31)).toBe(true);
    for (const r of stored) if (r.seq !== null) expect(seqs.has(r.seq)).toBe(true);

    for (let i = 0; i < letters.length; i += 500) await insertDeadLetters(db, letters.slice(i, i + 500));
    expect((await listDeadLetters(db, { limit: 1000 })).length).toBeGreaterThan(0);

    if (influx) {
      await influxQL(influx.url, 'fuzz', 'CREATE DATABASE fuzz');
      const lines = accepted.map((r) => toLine(r, { community: 'c1', grid: 'g1', building: 'b1' })!);
      for (let i = 0; i < lines.length; i += 1000) {
        const res = await fetch(`${influx.url}/write?db=fuzz&precision=ms`, { method: 'POST', body: lines.slice(i, i + 1000).join('\n') });
        expect(res.status, await res.text()).toBe(204);
      }
    }
  }, 120_000);

  it('command answers with text the store cannot hold are refused as invalid_ack', () => {
    for (const id of ['cmd-\u0000', '\ud800']) expect(validateAck(Buffer.from(JSON.stringify({ id, ok: true })), 1024)).toMatchObject({ ok: false, reason: 'invalid_ack' });
    expect(validateAck(Buffer.from(JSON.stringify({ id: 'cmd-1', ok: false, message: 'door\u0000jammed' })), 1024)).toMatchObject({ ok: false, reason: 'invalid_ack' });
    expect(validateAck(Buffer.from(JSON.stringify({ id: 'cmd-1', ok: false, code: 3, message: '门已关' })), 1024)).toMatchObject({ ok: true });
  });
});
