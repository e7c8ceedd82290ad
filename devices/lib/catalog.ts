import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILD_DIR, BUILT, ROOT } from '../../core/paths.ts';
import { z } from 'zod';
import type { DeviceDefinition, RuleData } from './define.ts';
import { eventSchema, telemetrySchema } from './schemas.ts';
import { telemetryCheck } from './telemetry-check.ts';

/** A device type ready for use: its definition plus what the catalog derived from it. */
export interface DeviceType<R extends RuleData = RuleData> {
  id: string;
  definition: DeviceDefinition;
  /** Its rules, as the rule kinds parsed them (rules/kinds: the catalog is loaded with them by rules/catalog.ts). */
  rules: R[];
  telemetry: ReturnType<typeof telemetrySchema>;
  /** True only for telemetry the schema certainly accepts, without zod's cost (ingest's hot path). */
  telemetryOk: ReturnType<typeof telemetryCheck>;
  event: ReturnType<typeof eventSchema>;
  /**
   * Alink thing-model identifiers (broker/alink.ts) → our property and event names: each of ours,
   * plus the identifier a property carries (`alink('BatteryPercentage', …)`) or `alinkEvents` names.
   */
  alink: { props: ReadonlyMap<string, string>; events: ReadonlyMap<string, string> };
  /** Source file, for error messages. */
  file: string;
}

export interface Catalog<R extends RuleData = RuleData> {
  types: ReadonlyMap<string, DeviceType<R>>;
  get(id: string): DeviceType<R> | undefined;
  ids(): string[];
  /** A rule by its id (unique across the catalog), with the type it belongs to. */
  rule(id: string): { type: DeviceType<R>; rule: R } | undefined;
}

/**
 * Parses one rule of a device file (the rules service's kinds do: devices/ declares rules as data
 * and does not know what each kind means). Throws naming the file and the field.
 */
export type RuleCompiler<R extends RuleData> = (raw: unknown, where: { file: string; index: number; host: { props: Record<string, unknown>; events: Record<string, unknown> } }) => R;

/** The device types: their TypeScript files, or in the build their compiled twins (dist/devices/). */
export const DEVICES_DIR = BUILT ? path.join(BUILD_DIR, 'devices') : path.join(ROOT, 'devices');

const idPattern = /^[a-z][a-z0-9-]{1,40}$/;
const nameRe = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** An Alink thing-model identifier: letters, digits and _, not starting with a digit, at most 50. */
const alinkId = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,49}$/);
const propSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('number'), unit: z.string(), min: z.number(), max: z.number(), integer: z.boolean().optional(), label: z.string(), alink: alinkId.optional() }).refine((p) => p.min < p.max, 'min must be below max'),
  z.object({ kind: z.literal('boolean'), label: z.string(), alink: alinkId.optional() }),
  z.object({ kind: z.literal('string'), format: z.literal('url').optional(), maxLength: z.number().int().positive(), label: z.string(), alink: alinkId.optional() }),
]);
/** The shape every device file must have; checked at load so a bad file fails loudly, naming itself. */
const definitionSchema = z.object({
  id: z.string().regex(idPattern),
  name: z.string().min(1),
  description: z.string(),
  heartbeatS: z.number().positive(),
  props: z.record(z.string().regex(nameRe), propSpec).refine((p) => Object.keys(p).length > 0, 'a device type needs at least one property'),
  events: z.record(z.string().regex(nameRe), z.record(z.string().regex(nameRe), propSpec)),
  rules: z.array(z.unknown()),
  simulate: z.object({ modes: z.array(z.string()), init: z.function(), tick: z.function() }),
  panels: z.array(z.object({ title: z.string(), props: z.array(z.string()).min(1), unit: z.string().optional(), kind: z.enum(['timeseries', 'stat', 'events']).optional() })),
  alinkEvents: z.record(alinkId, z.string()).optional(),
});

export function compileDeviceType<R extends RuleData>(definition: DeviceDefinition, file: string, compileRule: RuleCompiler<R>): DeviceType<R> {
  const checked = definitionSchema.safeParse(definition);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new Error(`device definition ${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  const rules = definition.rules.map((raw, index) => compileRule(raw, { file, index, host: definition }));
  const known = new Set([...Object.keys(definition.props), ...Object.keys(definition.events)]);
  for (const panel of definition.panels)
    for (const p of panel.props) if (!known.has(p)) throw new Error(`device definition ${file}: panel "${panel.title}" shows unknown ${p}`);
  return { id: definition.id, definition, rules, telemetry: telemetrySchema(definition.props), telemetryOk: telemetryCheck(definition.props), event: eventSchema(definition.events), alink: alinkNames(definition, file), file };
}

/** One Alink identifier names one property or event: a clash fails the load, naming the file. */
function alinkNames(d: DeviceDefinition, file: string): DeviceType['alink'] {
  const props = new Map(Object.keys(d.props).map((k) => [k, k]));
  for (const [k, spec] of Object.entries(d.props)) {
    if (!spec.alink || spec.alink === k) continue;
    if (props.has(spec.alink)) throw new Error(`device definition ${file}: Alink identifier ${spec.alink} of ${k} already names ${props.get(spec.alink)}`);
    props.set(spec.alink, k);
  }
  const events = new Map(Object.keys(d.events).map((k) => [k, k]));
  for (const [id, event] of Object.entries(d.alinkEvents ?? {})) {
    if (!(event in d.events)) throw new Error(`device definition ${file}: alinkEvents.${id} names unknown event ${event}`);
    if (events.has(id)) throw new Error(`device definition ${file}: Alink identifier ${id} already names ${events.get(id)}`);
    events.set(id, event);
  }
  return { props, events };
}

export function createCatalog<R extends RuleData>(types: DeviceType<R>[]): Catalog<R> {
  const map = new Map<string, DeviceType<R>>();
  for (const t of types) {
    const clash = map.get(t.id);
    if (clash) throw new Error(`device type ${t.id} is defined twice: ${clash.file} and ${t.file}`);
    map.set(t.id, t);
  }
  // Overrides and alarms name a rule by its id alone, so ids are unique across the whole catalog.
  const ruleOwner = new Map<string, DeviceType<R>>();
  for (const t of map.values())
    for (const r of t.rules) {
      const other = ruleOwner.get(r.id);
      if (other) throw new Error(`rule id ${r.id} is used by both ${other.file} and ${t.file}`);
      ruleOwner.set(r.id, t);
    }
  return {
    types: map,
    get: (id) => map.get(id),
    ids: () => [...map.keys()].sort(),
    rule: (id) => {
      const type = ruleOwner.get(id);
      return type && { type, rule: type.rules.find((r) => r.id === id)! };
    },
  };
}

/**
 * Loads every device type in a folder: one `*.ts` file a type, its default export a definition.
 * Dropping a new file in is all it takes for the broker, ingest, rules and simulators to know the
 * type. The platform loads it through rules/catalog.ts, which brings the rule kinds.
 */
export async function loadDeviceCatalog<R extends RuleData>(dir: string, compileRule: RuleCompiler<R>): Promise<Catalog<R>> {
  const files = readdirSync(dir)
    .filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith('.d.ts') && !f.startsWith('_'))
    .sort();
  const types: DeviceType<R>[] = [];
  for (const f of files) {
    const file = path.join(dir, f);
    const mod = (await import(pathToFileURL(file).href)) as { default?: DeviceDefinition };
    if (!mod.default) throw new Error(`device definition ${file}: no default export`);
    const type = compileDeviceType(mod.default, file, compileRule);
    if (type.id !== path.basename(f).replace(/\.(ts|js|mjs)$/, '')) throw new Error(`device definition ${file}: id ${type.id} must match the file name`);
    types.push(type);
  }
  return createCatalog(types);
}
