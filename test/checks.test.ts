import { describe, expect, it } from 'vitest';
import { kindOf, type Rule } from '../rules/kinds/index.ts';
import { loadCatalog, type DeviceType } from '../rules/catalog.ts';
import { compileRule } from '../rules/kinds/index.ts';

/**
 * Every definition in the catalog at once, as zigbee-herdsman-converters' `test/checks.test.ts`
 * does: what each device type must have, whatever file it came from. Adding a type edits no test.
 */
const catalog = await loadCatalog();
const types = [...catalog.types.values()];
const watching = (t: DeviceType, prop: string) => t.rules.filter((r) => kindOf(r).listensTo === 'prop' && kindOf(r).target!(r) === prop);

describe.each(types.map((t) => [t.id, t] as const))('%s', (_id, t) => {
  it('goes offline loudly: a silence rule raises a ticket that closes itself when the device is heard again', () => {
    const offline = t.rules.filter((r) => r.kind === 'silence');
    expect(offline.length).toBe(1);
    expect(offline[0]!.raises).toMatchObject({ item: 'ticket', autoClose: true, category: 'offline' });
    expect(t.definition.heartbeatS).toBeGreaterThan(0);
  });

  it('has a low-battery ticket that closes itself if it has a battery', () => {
    if (!('batteryPct' in t.definition.props)) return;
    const low = watching(t, 'batteryPct');
    expect(low.length).toBeGreaterThan(0);
    expect(low[0]).toMatchObject({ kind: 'threshold', direction: 'below', raises: { item: 'ticket', autoClose: true, category: 'battery' } });
  });

  it('has a rule on every safety flag it reports (tamper, tilt, module online)', () => {
    for (const prop of ['tamper', 'tiltDeg', 'online']) if (prop in t.definition.props) expect(watching(t, prop).length, `${t.id}: a rule on ${prop}`).toBeGreaterThan(0);
  });

  it('describes every rule in Chinese and English, and every rule that opens an item says how urgent', () => {
    for (const r of t.rules) {
      expect(r.description.length).toBeGreaterThan(0);
      expect(r.title, `${r.id}: a Chinese title`).toMatch(/[\u4e00-\u9fff]/);
      if (r.raises) expect(['critical', 'major', 'minor']).toContain(r.raises.severity);
    }
  });

  it('shows a panel for every property a rule watches, and simulates every mode it lists', () => {
    const shown = new Set(t.definition.panels.flatMap((p) => p.props));
    const watched = t.rules.flatMap((r: Rule) => (kindOf(r).listensTo === 'message' ? [] : [kindOf(r).target!(r)]));
    // Flags that are a state, not a trend (tamper, lens blocked, door open), need no chart; numbers do.
    for (const p of watched) if (t.definition.props[p]?.kind === 'number') expect(shown.has(p), `${t.id}: panel for ${p}`).toBe(true);
    expect(new Set(t.definition.simulate.modes).size).toBe(t.definition.simulate.modes.length);
  });
});

describe('rule kinds at load', () => {
  const host = { props: { x: {} }, events: {} };
  it('refuses an unknown kind, naming the file and the field', () => {
    expect(() => compileRule({ id: 'a', kind: 'treshold', description: 'typo', prop: 'x', trigger: 1, clear: 0 }, { file: 'devices/x.ts', index: 2, host })).toThrow(/devices\/x\.ts: rules\[2\]\.kind: unknown rule kind "treshold"; known kinds: threshold, boolean, event, count, silence/);
    expect(() => compileRule({ id: 'a', description: 'no kind' }, { file: 'devices/x.ts', index: 0, host })).toThrow(/rules\[0\]\.kind: unknown rule kind undefined/);
  });

  it('refuses a field the kind does not have, or a band the wrong way round, naming the field', () => {
    expect(() => compileRule({ id: 'a', kind: 'silence', description: 'd', heartbeats: 3, trigger: 5 }, { file: 'f.ts', index: 0, host })).toThrow(/f\.ts: rules\[0\]\.trigger: a silence rule has no field trigger/);
    expect(() => compileRule({ id: 'a', kind: 'threshold', description: 'd', prop: 'x', trigger: 1, clear: 5 }, { file: 'f.ts', index: 0, host })).toThrow(/rules\[0\]\.clear \(rule a\): clear \(5\) must not be above trigger/);
    expect(() => compileRule({ id: 'a', kind: 'boolean', description: 'd', prop: 'nope' }, { file: 'f.ts', index: 0, host })).toThrow(/rules\[0\]\.prop \(rule a\): watches unknown property nope/);
  });
});
