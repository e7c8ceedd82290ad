import { z } from 'zod';
import { kindOf, RULE_KINDS, type Rule, type RuleKindName } from './kinds/index.ts';
import { policyParams } from './kinds/kind.ts';

/**
 * What a site may change about a rule: its numbers and whether it runs, never its shape. Each kind
 * declares its own parameters (kinds/*.ts); one zod schema made of them all validates overrides
 * from the site file and the API alike, and `unknownParam` refuses those the rule's kind lacks.
 */
export const overrideParamsSchema = z
  .object({
    enabled: z.boolean(),
    ...Object.assign({}, ...RULE_KINDS.map((k) => k.params)),
    // The policy: which work item the alarm opens (`none`: only the alarm), how urgent, and whether
    // it may close itself once the sensor recovers (无感销).
    ...policyParams,
  })
  .partial()
  .strict();

export type OverrideParams = { enabled?: boolean; item?: 'work_order' | 'ticket' | 'none'; severity?: 'critical' | 'major' | 'minor'; autoClose?: boolean } & Record<string, unknown>;
export type ParamName = string;

const POLICY: readonly ParamName[] = Object.keys(policyParams);

/** The parameters each kind of rule has (every kind also has `enabled` and the work-item policy). */
export const PARAMS_BY_KIND = Object.fromEntries(RULE_KINDS.map((k) => [k.kind, ['enabled', ...Object.keys(k.params), ...POLICY]])) as unknown as Record<RuleKindName, readonly ParamName[]>;

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
  const p = kindOf(rule).problem?.(rule as never);
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
  Object.assign(out, kindOf(rule).describe(rule as never));
  if (Object.keys(rule.sources).length) out.overriddenBy = rule.sources;
  return out;
}
