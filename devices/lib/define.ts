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
}

/** Identity function that gives a device file its types; the catalog checks the rest at load. */
export function defineDevice<S>(def: DeviceDefinition<S>): DeviceDefinition<S> {
  return def;
}

/** Rounds a simulated value to what a device would report. */
export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
