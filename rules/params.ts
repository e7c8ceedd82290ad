import { z } from 'zod';
import { ruleParamsProblem, SEVERITIES, type Rule } from '../devices/lib/rules.ts';

/**
 * What a site may change about a rule: its numbers and whether it runs, never its shape. One zod
 * schema validates overrides from the site file and the API alike.
 */
export const overrideParamsSchema = z
  .object({
    enabled: z.boolean(),
    trigger: z.number(),
    clear: z.number(),
    holdS: z.number().nonnegative(),
    verifyS: z.number().nonnegative(),
    minConfidence: z.number().min(0).max(1),
    clearAfterS: z.number().positive(),
    count: z.number().int().min(2),
    windowS: z.number().positive(),
    heartbeats: z.number().int().min(1),
    // The policy: which work item the alarm opens (`none`: only the alarm), how urgent, and whether
    // it may close itself once the sensor recovers (无感销).
    item: z.enum(['work_order', 'ticket', 'none']),
    severity: z.enum(SEVERITIES),
    autoClose: z.boolean(),
  })
  .partial()
  .strict();

export type OverrideParams = z.infer<typeof overrideParamsSchema>;
export type ParamName = keyof OverrideParams;

const POLICY: readonly ParamName[] = ['item', 'severity', 'autoClose'];

/** The parameters each kind of rule has (every kind also has the work-item policy). */
export const PARAMS_BY_KIND: Record<Rule['kind'], readonly ParamName[]> = {
  threshold: ['enabled', 'trigger', 'clear', 'holdS', 'verifyS', ...POLICY],
  boolean: ['enabled', 'holdS', 'verifyS', ...POLICY],
  event: ['enabled', 'minConfidence', 'clearAfterS', ...POLICY],
  count: ['enabled', 'minConfidence', 'count', 'windowS', ...POLICY],
  silence: ['enabled', 'heartbeats', 'verifyS', ...POLICY],
};

/** A rule with the overrides in force for one device applied, and where each changed number came from. */
export type EffectiveRule = Rule & { enabled: boolean; sources: Partial<Record<ParamName, string>> };

export interface OverrideLayer {
  /** `device:<id>` or `org:<id>`: named in `sources` so a manager can see why a number is what it is. */
  scope: string;
  params: OverrideParams;
}

/** Fields of `params` that `rule` does not have, as a problem naming the field. */
export function unknownParam(rule: Rule, params: OverrideParams): { field: string; message: string } | undefined {
  const allowed = PARAMS_BY_KIND[rule.kind];
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key as ParamName)) return { field: `params.${key}`, message: `rule ${rule.id} (${rule.kind}) has no parameter ${key}; it has ${allowed.join(', ')}` };
  }
  return undefined;
}

/** Applies override layers, farthest first, so the nearest one wins field by field. */
export function applyOverrides(rule: Rule, layers: readonly OverrideLayer[]): EffectiveRule {
  const merged: Record<string, unknown> = { ...rule, enabled: true, sources: {} };
  const sources: Record<string, string> = {};
  const allowed = PARAMS_BY_KIND[rule.kind];
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.params)) {
      if (value === undefined || !allowed.includes(key as ParamName)) continue;
      merged[key] = value;
      sources[key] = layer.scope;
    }
  }
  merged.sources = sources;
  // The policy lives in `raises`; overrides name its fields flat.
  if (merged.item !== undefined || merged.severity !== undefined || merged.autoClose !== undefined) {
    const base = rule.raises ?? { item: 'ticket' as const, severity: 'minor' as const, whistle: [], autoClose: false };
    const item = (merged.item as string | undefined) ?? base.item;
    merged.raises = item === 'none' ? undefined : { ...base, item, severity: merged.severity ?? base.severity, autoClose: merged.autoClose ?? base.autoClose };
    delete merged.item;
    delete merged.severity;
    delete merged.autoClose;
  }
  return merged as EffectiveRule;
}

/** The merged rule's consistency problem (a hysteresis band the wrong way round), if any. */
export function effectiveProblem(rule: EffectiveRule): { field: string; message: string } | undefined {
  const p = ruleParamsProblem(rule);
  return p && { field: `params.${p.field}`, message: p.message };
}

/** The numbers an alarm records as "the parameters in force". */
export function paramsInForce(rule: EffectiveRule): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of PARAMS_BY_KIND[rule.kind]) if (!POLICY.includes(key)) out[key] = (rule as Record<string, unknown>)[key];
  out.item = rule.raises?.item ?? 'none';
  if (rule.raises) {
    out.severity = rule.raises.severity;
    out.autoClose = rule.raises.autoClose;
  }
  if (rule.kind === 'threshold') out.direction = rule.direction;
  if (rule.kind === 'boolean' || rule.kind === 'threshold') out.prop = rule.prop;
  if (rule.kind === 'event' || rule.kind === 'count') out.event = rule.event;
  if (Object.keys(rule.sources).length) out.overriddenBy = rule.sources;
  return out;
}
