import { z } from 'zod';
import { ruleParamsProblem, type Rule } from '../devices/lib/rules.ts';

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
  })
  .partial()
  .strict();

export type OverrideParams = z.infer<typeof overrideParamsSchema>;
export type ParamName = keyof OverrideParams;

/** The parameters each kind of rule has. */
export const PARAMS_BY_KIND: Record<Rule['kind'], readonly ParamName[]> = {
  threshold: ['enabled', 'trigger', 'clear', 'holdS', 'verifyS'],
  boolean: ['enabled', 'holdS', 'verifyS'],
  event: ['enabled', 'minConfidence', 'clearAfterS'],
  count: ['enabled', 'minConfidence', 'count', 'windowS'],
  silence: ['enabled', 'heartbeats', 'verifyS'],
};

/** A rule with the overrides in force for one device applied, and where each changed number came from. */
export type EffectiveRule = Rule & { enabled: boolean; sources: Partial<Record<ParamName, string>> };

export interface OverrideLayer {
  /** `device:<id>` or `org:<id>`: named in `sources` so a manager can see why a number is what it is. */
  scope: string;
  params: OverrideParams;
}

/** Fields of `params` that `rule` does not have, as a 400-ready problem. */
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
  for (const key of PARAMS_BY_KIND[rule.kind]) out[key] = (rule as Record<string, unknown>)[key];
  if (rule.kind === 'threshold') out.direction = rule.direction;
  if (rule.kind === 'boolean' || rule.kind === 'threshold') out.prop = rule.prop;
  if (rule.kind === 'event' || rule.kind === 'count') out.event = rule.event;
  if (Object.keys(rule.sources).length) out.overriddenBy = rule.sources;
  return out;
}
