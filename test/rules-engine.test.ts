import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Rule } from '../rules/kinds/index.ts';
import { listAlarms } from '../rules/alarm-store.ts';
import { alarmEvents, RulesHarness, type EngineUnderTest } from './helpers/rules.ts';

let h: RulesHarness;
beforeAll(async () => {
  h = await RulesHarness.open();
});
afterAll(() => h?.close());
beforeEach(() => h.reset());

const S = 1000;

/** The stored alarms of one device and rule. */
const stored = async (deviceId: string, ruleId: string) => (await listAlarms(h.db, { deviceId, ruleId, limit: 500 })).items;

/**
 * Plays a rule's whole life against its own numbers: just short of the trigger, the trigger, a hold
 * not reached, flapping inside the band, a clear level not reached, then a proper clear. Returns
 * how many breaching readings it sent (the alarm's expected count).
 */
async function playLevelRule(t: EngineUnderTest, deviceId: string, rule: Rule & { kind: 'threshold' }): Promise<number> {
  const events = async () => alarmEvents(await t.settle(), deviceId, rule.id);
  const above = rule.direction === 'above';
  const span = Math.abs(rule.trigger - rule.clear);
  const eps = span / 10;
  const send = (v: number) => t.tel(deviceId, { [rule.prop]: v });
  const short = above ? rule.trigger - eps : rule.trigger + eps; // inside the band, not breaching
  const pastClear = above ? rule.clear - eps : rule.clear + eps;
  const breachHigh = above ? rule.trigger + eps : rule.trigger - eps;
  let breaches = 0;
  send(short);
  if (rule.holdS > 0) {
    send(rule.trigger);
    t.clock.advance(rule.holdS * S - 1); // hold not reached …
    send(short); // … and broken: the pending alarm is dropped
    t.clock.advance(rule.holdS * S);
  }
  expect(await events(), `${rule.id}: just short of the trigger, or not held`).toEqual([]);
  send(rule.trigger);
  breaches++;
  t.clock.advance(rule.holdS * S);
  expect(await events(), `${rule.id}: at the trigger`).toEqual(['raised']);
  for (let i = 0; i < 5; i++) {
    send(short); // flapping across the trigger inside the band
    send(breachHigh);
    breaches++;
  }
  send(short);
  t.clock.advance(Math.max(rule.verifyS, 1) * S * 3); // the band is not the clear level
  expect(await events(), `${rule.id}: flapping in the band, clear level not reached`).not.toContain('cleared');
  expect((await stored(deviceId, rule.id))[0]?.state).toBe('active');
  send(pastClear);
  if (rule.verifyS > 0) {
    t.clock.advance(rule.verifyS * S - 1);
    send(short); // back in the band before the verify time: active again
    send(pastClear);
    t.clock.advance(rule.verifyS * S - 1);
    expect(await events(), `${rule.id}: verify time not over`).not.toContain('cleared');
    t.clock.advance(1);
  }
  return breaches;
}

describe('every default rule fires once and clears once (manual clock, real store)', () => {
  const catalogRules = async () => [...h.catalog.types.values()].flatMap((type) => type.rules.map((rule) => ({ type, rule })));

  it('covers the rule table of DESIGN §3, and the facets\' battery, offline, tilt and module rules', async () => {
    const ids = (await catalogRules()).map((r) => r.rule.id).sort();
    expect(ids).toEqual([
      'bin-fire', 'bin-full', 'bin-overflow', 'ebike-detected', 'ebike-elevator-module-offline', 'ebike-elevator-offline', 'ebike-repeat',
      'manhole-cover-battery-low', 'manhole-cover-offline', 'manhole-gas', 'manhole-open', 'manhole-tilt', 'manhole-water',
      'overflow-bin-battery-low', 'overflow-bin-offline', 'overflow-bin-tilt',
      'smoke-battery-low', 'smoke-density', 'smoke-device-alarm', 'smoke-heat', 'smoke-silent', 'smoke-tamper',
      'throw-camera-module-offline', 'throw-camera-offline', 'throw-detected', 'throw-lens-blocked',
    ]);
  });

  for (const typeId of ['smoke-detector', 'throw-camera', 'manhole-cover', 'overflow-bin', 'ebike-elevator']) {
    it(`${typeId}: each rule, at its edges`, async () => {
      const type = h.catalog.get(typeId)!;
      for (const rule of type.rules) {
        await h.reset();
        const t = await h.engine();
        const deviceId = `ba1-${typeId}-1`;
        let expectedCount: number;
        switch (rule.kind) {
          case 'threshold':
            expectedCount = await playLevelRule(t, deviceId, rule);
            break;
          case 'boolean': {
            // The breach is the rule's `when` value (true for a door open, false for a module gone offline).
            const [on, off] = [rule.when, !rule.when];
            t.tel(deviceId, { [rule.prop]: off });
            if (rule.holdS > 0) {
              t.tel(deviceId, { [rule.prop]: on });
              t.clock.advance(rule.holdS * S - 1);
              t.tel(deviceId, { [rule.prop]: off });
              expect(alarmEvents(await t.settle(), deviceId, rule.id), `${rule.id}: hold not reached`).toEqual([]);
            }
            t.tel(deviceId, { [rule.prop]: on });
            t.clock.advance(rule.holdS * S);
            t.tel(deviceId, { [rule.prop]: on });
            t.tel(deviceId, { [rule.prop]: off });
            t.clock.advance(rule.verifyS * S);
            expectedCount = 2;
            break;
          }
          case 'event': {
            t.ev(deviceId, rule.event, { confidence: rule.minConfidence - 0.01, floor: 9, snapshotUrl: 'https://cam.example/a.jpg' });
            expect(alarmEvents(await t.settle(), deviceId, rule.id), `${rule.id}: below the minimum confidence`).toEqual([]);
            t.ev(deviceId, rule.event, { confidence: rule.minConfidence, floor: 9, snapshotUrl: 'https://cam.example/b.jpg' });
            t.clock.advance(rule.clearAfterS * S - 1);
            t.ev(deviceId, rule.event, { confidence: 0.99, floor: 9, snapshotUrl: 'https://cam.example/c.jpg' });
            t.clock.advance(rule.clearAfterS * S - 1);
            expect(alarmEvents(await t.settle(), deviceId, rule.id), `${rule.id}: still within its quiet time`).not.toContain('cleared');
            t.clock.advance(1);
            expectedCount = 2;
            break;
          }
          case 'count': {
            for (let i = 0; i < rule.count - 1; i++) {
              t.ev(deviceId, rule.event, { confidence: 0.99, snapshotUrl: `https://cam.example/${i}.jpg` });
              t.clock.advance(60 * S);
            }
            expect(alarmEvents(await t.settle(), deviceId, rule.id), `${rule.id}: one short of the count`).toEqual([]);
            t.ev(deviceId, rule.event, { confidence: 0.99, snapshotUrl: 'https://cam.example/last.jpg' });
            t.clock.advance(rule.windowS * S);
            expectedCount = rule.count;
            break;
          }
          case 'silence': {
            const limit = rule.heartbeats * type.definition.heartbeatS * S;
            t.tel(deviceId, { batteryPct: 90 });
            t.clock.advance(limit - 1);
            t.tel(deviceId, { batteryPct: 90 }); // a sign of life just in time
            t.clock.advance(limit - 1);
            expect(alarmEvents(await t.settle(), deviceId, rule.id), `${rule.id}: not silent long enough`).toEqual([]);
            t.clock.advance(1);
            expect(alarmEvents(await t.settle(), deviceId, rule.id)).toEqual(['raised']);
            t.tel(deviceId, { batteryPct: 90 });
            t.clock.advance(rule.verifyS * S);
            expectedCount = 0;
            break;
          }
        }
        const names = alarmEvents(await t.settle(), deviceId, rule.id);
        expect(names.filter((n) => n === 'raised'), `${rule.id}: raised once`).toHaveLength(1);
        expect(names.filter((n) => n === 'cleared'), `${rule.id}: cleared once`).toHaveLength(1);
        expect(names.at(-1), `${rule.id}: cleared last`).toBe('cleared');
        const rows = await stored(deviceId, rule.id);
        expect(rows, `${rule.id}: one alarm row`).toHaveLength(1);
        expect(rows[0]).toMatchObject({ state: 'cleared', count: expectedCount, severity: rule.raises?.severity ?? null });
        expect(rows[0]!.evidence.rule.id).toBe(rule.id);
      }
    });
  }
});
