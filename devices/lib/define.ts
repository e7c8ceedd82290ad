import type { Facet } from './facets.ts';
import type { PropSpec } from './props.ts';

/** Deterministic randomness for simulators (so a scenario run is reproducible from its seed). */
export interface Rng {
  next(): number;
  between(min: number, max: number): number;
  chance(p: number): boolean;
}

export interface SimContext {
  rng: Rng;
  /** The behaviour this device plays: `normal`, or one of the definition's `modes`. */
  mode: string;
  /** Seconds since the previous tick of this device. */
  dtS: number;
  /** Simulated wall-clock time (ms epoch), so daily cycles follow the clock. */
  now: number;
  /** Ticks this device has played in its current mode. */
  tick: number;
}

export interface SimOutput {
  props?: Record<string, number | boolean | string>;
  events?: { event: string; data: Record<string, unknown> }[];
}

export interface Simulation<S> {
  /** Modes beyond `normal` that scenarios can ask for. */
  modes: readonly string[];
  init(rng: Rng): S;
  tick(state: S, ctx: SimContext): SimOutput;
}

export interface Panel {
  title: string;
  props: string[];
  unit?: string;
  kind?: 'timeseries' | 'stat' | 'events';
}

/**
 * A default alarm rule, as data (DESIGN §3): `kind` names one of the rules service's kinds
 * (threshold, boolean, event, count, silence: rules/kinds/), which checks the rest at load.
 */
export interface RuleData {
  id: string;
  kind: string;
  description: string;
}
export type RuleInput = RuleData & Record<string, unknown>;

export interface DeviceDefinition<S = unknown> {
  /** The catalog id: `{type}` in `v1/{type}/{deviceId}/...`. */
  id: string;
  name: string;
  description: string;
  /** The device reports at least this often (its heartbeat); silence rules count in these. */
  heartbeatS: number;
  props: Record<string, PropSpec>;
  events: Record<string, Record<string, PropSpec>>;
  rules: RuleInput[];
  simulate: Simulation<S>;
  panels: Panel[];
  /** The facets it was composed of (`battery`, `heartbeat`, …), for the catalog's checks. */
  facets?: string[];
  /** Alink event identifiers that name one of `events` (`SmokeAlarmTest` → `test_button`); ours are accepted as they are. */
  alinkEvents?: Record<string, string>;
}

/** What a device file writes: its own parts, and the facets it is composed of (facets.ts). */
export interface DeviceFile<S> extends Omit<DeviceDefinition<S>, 'heartbeatS' | 'events' | 'rules' | 'panels' | 'facets'> {
  /** The facets this type is made of: `battery()`, `heartbeat(60)`, `tamper()`, `tilt()`, `online()`. */
  extend?: Facet[];
  /** Given by `heartbeat(s)`, or here. */
  heartbeatS?: number;
  events?: DeviceDefinition['events'];
  rules?: RuleInput[];
  panels?: Panel[];
}

/**
 * Composes a device type from its facets and its own parts; its own win (a property, a rule with
 * the facet rule's id, a panel showing the same property). The catalog checks the result at load.
 */
export function defineDevice<S>(file: DeviceFile<S>): DeviceDefinition {
  const { extend: facets = [], ...own } = file;
  const ownRules = own.rules ?? [];
  const ownPanels = own.panels ?? [];
  const shown = new Set(ownPanels.flatMap((p) => p.props));
  const facetRules = facets.flatMap((f) => f.rules?.(own.id) ?? []).filter((r) => !ownRules.some((o) => o.id === r.id));
  const sims = facets.map((f) => f.simulate);
  return {
    ...own,
    heartbeatS: own.heartbeatS ?? facets.find((f) => f.heartbeatS)?.heartbeatS ?? Number.NaN,
    props: { ...own.props, ...Object.fromEntries(facets.flatMap((f) => Object.entries(f.props ?? {})).filter(([k]) => !(k in own.props))) },
    events: own.events ?? {},
    rules: [...ownRules, ...facetRules],
    panels: [...ownPanels, ...facets.flatMap((f) => f.panels ?? []).filter((p) => !p.props.some((x) => shown.has(x)))],
    facets: facets.map((f) => f.name),
    simulate: {
      modes: [...new Set([...own.simulate.modes, ...sims.flatMap((x) => x?.modes ?? [])])],
      init: (rng) => ({ own: own.simulate.init(rng), facets: sims.map((x) => x?.init(rng)) }),
      tick(state, ctx) {
        const st = state as { own: S; facets: unknown[] };
        const out: SimOutput = { props: {}, events: [] };
        sims.forEach((x, i) => {
          if (!x) return;
          const o = x.tick(st.facets[i], ctx);
          Object.assign(out.props!, o.props);
          out.events!.push(...(o.events ?? []));
        });
        // The device's own simulation wins where both report a property (a lifted manhole cover's tilt).
        const o = own.simulate.tick(st.own, ctx);
        Object.assign(out.props!, o.props);
        out.events!.push(...(o.events ?? []));
        return out;
      },
    },
  };
}

/** Rounds a simulated value to what a device would report. */
export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
