import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../devices/lib/catalog.ts';
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
