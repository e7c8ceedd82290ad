import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../rules/catalog.ts';
import { createRng } from '../simulators/rng.ts';
import { validateMessage } from '../ingest/validate.ts';

const catalog = await loadCatalog();

describe('device catalog', () => {
  it('has the five types of DESIGN §3', () => {
    expect(catalog.ids()).toEqual(['ebike-elevator', 'manhole-cover', 'overflow-bin', 'smoke-detector', 'throw-camera']);
  });

  it('carries the minimum properties and events of DESIGN §3', () => {
    const want: Record<string, { props: string[]; events: Record<string, string[]> }> = {
      'smoke-detector': { props: ['smokeDbPerM', 'temperatureC', 'batteryPct', 'alarm', 'tamper'], events: { test_button: [] } },
      'throw-camera': { props: ['lensBlocked', 'online'], events: { throw_detected: ['floor', 'confidence', 'snapshotUrl'] } },
      'manhole-cover': { props: ['tiltDeg', 'open', 'waterLevelCm', 'gasPpm', 'batteryPct'], events: {} },
      'overflow-bin': { props: ['fillPct', 'temperatureC', 'tiltDeg', 'batteryPct'], events: {} },
      'ebike-elevator': { props: ['doorHeld', 'online'], events: { ebike_detected: ['confidence', 'snapshotUrl'] } },
    };
    for (const [id, w] of Object.entries(want)) {
      const def = catalog.get(id)!.definition;
      expect(Object.keys(def.props)).toEqual(expect.arrayContaining(w.props));
      for (const [event, fields] of Object.entries(w.events)) expect(Object.keys(def.events[event] ?? {})).toEqual(expect.arrayContaining(fields));
    }
  });

  it('has the default rules of DESIGN §3 as data', () => {
    const rule = (type: string, id: string) => catalog.get(type)!.rules.find((r) => r.id === id);
    expect(rule('smoke-detector', 'smoke-density')).toMatchObject({ kind: 'threshold', prop: 'smokeDbPerM', trigger: 0.15, clear: 0.05, holdS: 10, raises: { item: 'work_order', severity: 'critical', whistle: ['fire_brigade'] } });
    expect(rule('smoke-detector', 'smoke-silent')).toMatchObject({ kind: 'silence', heartbeats: 3, raises: { item: 'ticket' } });
    expect(rule('throw-camera', 'throw-detected')).toMatchObject({ kind: 'event', minConfidence: 0.8, repeat: { sameField: 'floor', windowS: 86_400, whistle: ['police'] } });
    expect(rule('manhole-cover', 'manhole-tilt')).toMatchObject({ trigger: 15, clear: 5, holdS: 5, raises: { whistle: ['municipal_works'] } });
    expect(rule('manhole-cover', 'manhole-water')).toMatchObject({ direction: 'below', trigger: 30 });
    expect(rule('overflow-bin', 'bin-full')).toMatchObject({ trigger: 80, clear: 30, raises: { item: 'ticket', autoClose: true } });
    expect(rule('overflow-bin', 'bin-overflow')).toMatchObject({ trigger: 100, holdS: 1800, raises: { item: 'work_order', severity: 'minor' } });
    expect(rule('ebike-elevator', 'ebike-detected')).toMatchObject({ minConfidence: 0.85, command: { name: 'hold_door' } });
    expect(rule('ebike-elevator', 'ebike-repeat')).toMatchObject({ kind: 'count', count: 3, windowS: 3600, raises: { item: 'ticket' } });
  });

  it('simulates every type with messages its own schema accepts, in every mode', () => {
    for (const type of catalog.types.values()) {
      const sim = type.definition.simulate;
      for (const mode of ['normal', ...sim.modes]) {
        const rng = createRng(7);
        const state = sim.init(rng);
        for (let tick = 0; tick < 200; tick++) {
          const now = Date.UTC(2026, 10, 21, 0, 0, 0) + tick * 600_000; // spans day and night
          const out = sim.tick(state, { rng, mode, dtS: 600, now, tick });
          if (out.props) {
            const v = validateMessage(type, 'd1', 'telemetry', Buffer.from(JSON.stringify({ ts: now, props: out.props })), now, 16_384);
            expect(v, `${type.id}/${mode} tick ${tick}: ${JSON.stringify(out.props)}`).toMatchObject({ ok: true });
          }
          for (const e of out.events ?? []) {
            const v = validateMessage(type, 'd1', 'event', Buffer.from(JSON.stringify({ ts: now, ...e })), now, 16_384);
            expect(v, `${type.id}/${mode} event ${JSON.stringify(e)}`).toMatchObject({ ok: true });
          }
        }
      }
    }
  });

  it('modes change behaviour the way scenarios rely on', () => {
    const play = (typeId: string, mode: string, ticks: number) => {
      const sim = catalog.get(typeId)!.definition.simulate;
      const rng = createRng(3);
      const state = sim.init(rng);
      let last = {} as Record<string, unknown>;
      const events: string[] = [];
      for (let tick = 0; tick < ticks; tick++) {
        const out = sim.tick(state, { rng, mode, dtS: 5, now: Date.UTC(2026, 10, 21, 2) + tick * 5000, tick });
        last = { ...last, ...out.props };
        events.push(...(out.events ?? []).map((e) => e.event));
      }
      return { last, events };
    };
    expect(play('smoke-detector', 'fire', 6).last.smokeDbPerM).toBeGreaterThanOrEqual(0.15);
    expect(play('smoke-detector', 'normal', 100).last.smokeDbPerM).toBeLessThan(0.05);
    expect(play('manhole-cover', 'open', 1).last).toMatchObject({ open: true });
    expect(play('overflow-bin', 'overflow', 12).last.fillPct).toBe(100);
    expect(play('ebike-elevator', 'repeat', 3).events).toEqual(['ebike_detected', 'ebike_detected', 'ebike_detected']);
  });
});
