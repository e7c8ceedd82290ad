import type { Panel, Rng, RuleInput, SimContext, SimOutput } from './define.ts';
import { alink, batteryPct, bool, tiltDeg, type PropSpec } from './props.ts';

/**
 * Facets, in the manner of zigbee-herdsman-converters' modernExtend: one call brings everything a
 * capability implies — the property, its default rule, its panel and its simulation — so that every
 * device type with a battery gets a low-battery ticket and every type an offline ticket without a
 * rule copied by hand. A device file lists them under `extend` and may override any default: the
 * facet's options, `rule: {…}` (merged into the default rule) or `rule: false`, or a property, rule
 * (same id) or panel of its own.
 */
export interface Facet {
  name: string;
  props?: Record<string, PropSpec>;
  /** Its rules; the device type's id names them by default (`{type}-battery-low`). */
  rules?(typeId: string): RuleInput[];
  panels?: Panel[];
  /** The type's heartbeat (heartbeat() only). */
  heartbeatS?: number;
  simulate?: FacetSimulation;
}

export interface FacetSimulation<S = unknown> {
  /** Modes a scenario may ask for (`low-battery`, `tamper`, …). */
  modes: readonly string[];
  init(rng: Rng): S;
  tick(state: S, ctx: SimContext): SimOutput;
}

/** How a device file adjusts a facet's rule: fields merged over the default, or `false` for none. */
type RuleOption = { rule?: Partial<RuleInput> | false };

const withRule = (base: RuleInput, option: RuleOption['rule']): RuleInput[] => (option === false ? [] : [{ ...base, ...option } as RuleInput]);

const sim = <S>(s: FacetSimulation<S>) => s as FacetSimulation;

/**
 * 电量: `batteryPct`, a low-battery property ticket that closes itself once the battery is changed
 * (below `trigger`, back above `clear` for 5 min), its panel, and a slow drain with a `low-battery` mode.
 */
export function battery(o: RuleOption & { trigger?: number; clear?: number; drainPctPerS?: number } = {}): Facet {
  const trigger = o.trigger ?? 20;
  const clear = o.clear ?? 25;
  return {
    name: 'battery',
    props: { batteryPct: batteryPct() },
    rules: (type) =>
      withRule(
        { id: `${type}-battery-low`, title: '电量低', kind: 'threshold', prop: 'batteryPct', direction: 'below', trigger, clear, verifyS: 300, description: `Battery below ${trigger} %`, raises: { item: 'ticket', severity: 'minor', autoClose: true, category: 'battery' } },
        o.rule,
      ),
    panels: [{ title: '电量 Battery', props: ['batteryPct'], unit: '%' }],
    simulate: sim<{ pct: number }>({
      modes: ['low-battery'],
      init: (rng) => ({ pct: rng.between(40, 100) }),
      tick(s, { rng, mode, dtS }) {
        s.pct = Math.max(0, s.pct - dtS * (o.drainPctPerS ?? 0.000_02)); // ~two years on a battery
        if (mode === 'low-battery') s.pct = Math.min(s.pct, rng.between(trigger * 0.4, trigger * 0.75));
        return { props: { batteryPct: Math.round(s.pct * 10) / 10 } };
      },
    }),
  };
}

/**
 * 心跳: the device reports at least every `seconds`; `heartbeats` of them without a message raise an
 * offline property ticket (掉线), which closes itself when the device is heard again. A manhole
 * cover whose sensor is stolen or dead raises this and nothing else.
 */
export function heartbeat(seconds: number, o: RuleOption & { heartbeats?: number } = {}): Facet {
  const heartbeats = o.heartbeats ?? 3;
  return {
    name: 'heartbeat',
    heartbeatS: seconds,
    rules: (type) =>
      withRule({ id: `${type}-offline`, title: '设备离线', kind: 'silence', heartbeats, description: `No report for ${heartbeats} heartbeats`, raises: { item: 'ticket', severity: 'minor', autoClose: true, category: 'offline' } }, o.rule),
  };
}

/** 防拆: a `tamper` flag, a major ticket while the device is off its base, and a `tamper` mode. */
export function tamper(o: RuleOption = {}): Facet {
  return {
    name: 'tamper',
    props: { tamper: alink('TamperAlarm', bool('防拆 tamper')) },
    rules: (type) => withRule({ id: `${type}-tamper`, title: '设备被拆除', kind: 'boolean', prop: 'tamper', verifyS: 300, description: 'Removed from its base or opened', raises: { item: 'ticket', severity: 'major', category: 'tamper' } }, o.rule),
    simulate: sim<null>({ modes: ['tamper'], init: () => null, tick: (_s, { mode }) => ({ props: { tamper: mode === 'tamper' } }) }),
  };
}

/**
 * 倾角: `tiltDeg`, a ticket when the device lies tilted past `trigger` for `holdS` (a bin knocked
 * over) that closes itself once it is upright, its panel, and a `knocked-over` mode.
 */
export function tilt(o: RuleOption & { trigger?: number; clear?: number; holdS?: number } = {}): Facet {
  const trigger = o.trigger ?? 45;
  const holdS = o.holdS ?? 30;
  return {
    name: 'tilt',
    props: { tiltDeg: tiltDeg() },
    rules: (type) =>
      withRule(
        { id: `${type}-tilt`, title: '设备倾倒', kind: 'threshold', prop: 'tiltDeg', trigger, clear: o.clear ?? 20, holdS, verifyS: 60, description: `Tilted ≥ ${trigger}° for ${holdS} s (knocked over)`, raises: { item: 'ticket', severity: 'minor', autoClose: true, category: 'knocked-over' } },
        o.rule,
      ),
    panels: [{ title: '倾角 Tilt', props: ['tiltDeg'], unit: '°' }],
    simulate: sim<null>({
      modes: ['knocked-over'],
      init: () => null,
      tick: (_s, { rng, mode }) => ({ props: { tiltDeg: Math.round((mode === 'knocked-over' ? rng.between(60, 90) : rng.between(0, 2)) * 10) / 10 } }),
    }),
  };
}

/**
 * 在线: an `online` flag for a camera or AI module behind the device's own connection; a ticket
 * when it reports itself offline for `holdS` (the module died while the modem still talks).
 */
export function online(o: RuleOption & { holdS?: number } = {}): Facet {
  const holdS = o.holdS ?? 300;
  return {
    name: 'online',
    props: { online: alink('ModuleOnline', bool('在线 camera/module online')) },
    rules: (type) =>
      withRule({ id: `${type}-module-offline`, title: '摄像模块离线', kind: 'boolean', prop: 'online', when: false, holdS, verifyS: 60, description: `Camera module offline for ${holdS / 60} min`, raises: { item: 'ticket', severity: 'minor', autoClose: true, category: 'camera' } }, o.rule),
    panels: [{ title: '在线 Online', props: ['online'], kind: 'stat' }],
    simulate: sim<null>({ modes: ['module-offline'], init: () => null, tick: (_s, { mode }) => ({ props: { online: mode !== 'module-offline' } }) }),
  };
}
