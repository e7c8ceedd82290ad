import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../rules/catalog.ts';
import { MAX_AGE_MS, MAX_AHEAD_MS, validateMessage } from '../ingest/validate.ts';

const catalog = await loadCatalog();
const NOW = Date.UTC(2026, 10, 21, 8, 0, 0);
const check = (type: string, kind: 'telemetry' | 'event', payload: unknown, now = NOW) =>
  validateMessage(catalog.get(type), 'dev-1', kind, Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), now, 16_384);

describe('message validation', () => {
  it('accepts any non-empty subset of properties', () => {
    const v = check('smoke-detector', 'telemetry', { ts: NOW - 1000, seq: 3, props: { smokeDbPerM: 0.02 } });
    expect(v).toEqual({ ok: true, reading: { deviceId: 'dev-1', type: 'smoke-detector', ts: NOW - 1000, kind: 'telemetry', event: undefined, seq: 3, data: { smokeDbPerM: 0.02 }, serverTs: false } });
  });

  it.each([
    ['invalid_json', 'telemetry', '{"props":'],
    ['invalid_envelope', 'telemetry', '[1,2]'],
    ['invalid_envelope', 'telemetry', { props: 5 }],
    ['invalid_envelope', 'telemetry', { props: { smokeDbPerM: 0.1 }, extra: 1 }],
    ['empty_props', 'telemetry', { props: {} }],
    ['unknown_property', 'telemetry', { props: { smokeDbPerM: 0.1, humidity: 40 } }],
    ['wrong_type', 'telemetry', { props: { alarm: 'yes' } }],
    ['wrong_type', 'telemetry', { ts: 'yesterday', props: { alarm: true } }],
    ['out_of_range', 'telemetry', { props: { batteryPct: 140 } }],
    ['out_of_range', 'telemetry', { props: { temperatureC: -300 } }],
    ['unknown_event', 'event', { event: 'explosion', data: {} }],
    ['invalid_envelope', 'event', { data: {} }],
  ] as const)('rejects %s: %j', (reason, kind, payload) => {
    expect(check('smoke-detector', kind, payload)).toMatchObject({ ok: false, reason });
  });

  it('names the missing field of an event', () => {
    const v = check('throw-camera', 'event', { event: 'throw_detected', data: { floor: 12, confidence: 0.9 } });
    expect(v).toMatchObject({ ok: false, reason: 'missing_field' });
    expect((v as { detail: string }).detail).toContain('snapshotUrl');
  });

  it('rejects an event on a type that has none, a fractional floor and a bad URL', () => {
    expect(check('manhole-cover', 'event', { event: 'x', data: {} })).toMatchObject({ ok: false, reason: 'unknown_event' });
    expect(check('throw-camera', 'event', { event: 'throw_detected', data: { floor: 12.5, confidence: 0.9, snapshotUrl: 'https://x.invalid/a.jpg' } })).toMatchObject({ ok: false, reason: 'wrong_type' });
    expect(check('throw-camera', 'event', { event: 'throw_detected', data: { floor: 12, confidence: 0.9, snapshotUrl: 'not a url' } })).toMatchObject({ ok: false, reason: 'invalid_value' });
  });

  it('rejects oversize payloads before parsing them', () => {
    const v = validateMessage(catalog.get('smoke-detector'), 'd', 'telemetry', Buffer.alloc(20_000, 0x20), NOW, 16_384);
    expect(v).toMatchObject({ ok: false, reason: 'payload_too_large' });
  });

  it('uses the device timestamp only inside the plausible window', () => {
    const at = (ts: number | undefined) => check('smoke-detector', 'telemetry', { ts, props: { alarm: false } });
    expect(at(NOW - MAX_AGE_MS + 1000)).toMatchObject({ reading: { ts: NOW - MAX_AGE_MS + 1000, serverTs: false } });
    expect(at(NOW + MAX_AHEAD_MS - 1000)).toMatchObject({ reading: { ts: NOW + MAX_AHEAD_MS - 1000, serverTs: false } });
    expect(at(NOW + MAX_AHEAD_MS + 1000)).toMatchObject({ reading: { ts: NOW, serverTs: true } });
    expect(at(NOW - MAX_AGE_MS - 1000)).toMatchObject({ reading: { ts: NOW, serverTs: true } });
    expect(at(undefined)).toMatchObject({ reading: { ts: NOW, serverTs: true } });
  });
});

describe('precompiled telemetry check', () => {
  // A seeded generator, so a disagreement reproduces.
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const oddValues: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, '', 'x'.repeat(3000), 'https://x.example/a.jpg', [], {}, [1], '12'];

  function valueFor(spec: { kind: string; min?: number; max?: number; integer?: boolean; maxLength?: number }): unknown {
    if (rand() < 0.25) return pick(oddValues);
    if (spec.kind === 'boolean') return rand() < 0.5;
    if (spec.kind === 'string') return 'y'.repeat(Math.floor(rand() * (spec.maxLength! + 3)));
    const span = spec.max! - spec.min!;
    // Around and beyond both ends of the range, whole and fractional.
    const v = spec.min! - span * 0.1 + rand() * span * 1.2;
    return spec.integer && rand() < 0.8 ? Math.round(v) : pick([v, spec.min!, spec.max!, Math.round(v)]);
  }

  it('never accepts what the zod schema refuses, gives the same reading, and takes the usual messages', () => {
    let fast = 0;
    let total = 0;
    for (const type of catalog.types.values()) {
      const specs = Object.entries(type.definition.props);
      for (let i = 0; i < 4000; i++) {
        const props: Record<string, unknown> = {};
        for (const [name, spec] of specs) if (rand() < 0.5) props[name] = valueFor(spec);
        if (rand() < 0.05) props[pick(['bogus', '__proto__', 'constructor'])] = 1;
        const msg: Record<string, unknown> = { props };
        if (rand() < 0.7) msg.ts = pick([NOW, NOW + 0.5, -1, '1', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2]);
        if (rand() < 0.5) msg.seq = pick([0, 7, -3, 2.5, null]);
        if (rand() < 0.03) msg.extra = true;
        if (rand() < 0.03) msg.props = pick([[], null, 'p', {}]);
        // The message as a device would send it: through JSON.
        const wire = JSON.parse(JSON.stringify(msg)) as Record<string, unknown>;
        const zod = type.telemetry.safeParse(wire);
        total++;
        if (type.telemetryOk(wire)) {
          fast++;
          expect(zod.success, `${type.id}: ${JSON.stringify(wire)}`).toBe(true);
          expect(wire).toEqual(zod.data);
        }
      }
    }
    // The fast path carries the bulk of well-formed traffic (about a third of these random messages are valid).
    expect(fast).toBeGreaterThan(total * 0.1);
  });

  it('takes a typical message of every type', () => {
    for (const type of catalog.types.values()) {
      const [name, spec] = Object.entries(type.definition.props).find(([, s]) => s.kind !== 'string')!;
      const value = spec.kind === 'number' ? spec.min : spec.kind === 'boolean' ? true : 'x';
      expect(type.telemetryOk({ ts: NOW, seq: 1, props: { [name]: value } }), type.id).toBe(true);
      expect(type.telemetryOk({ props: {} }), type.id).toBe(false);
    }
  });
});
