import type { Queryable } from '../core/store/db.ts';
import { inLanguage, type Text } from '../core/errors.ts';
import type { Catalog } from './catalog.ts';
import type { Rule } from './kinds/index.ts';
import { orgChain, type Placement } from '../core/directory.ts';
import { applyOverrides, effectiveProblem, overrideParamsSchema, unknownParam, type EffectiveRule, type OverrideLayer, type OverrideParams } from './params.ts';

export type ScopeKind = 'org' | 'device';

export interface Override {
  scopeKind: ScopeKind;
  scopeId: string;
  ruleId: string;
  params: OverrideParams;
  updatedAt: Date;
}

/**
 * Rule overrides down the org tree (street → community → grid → micro-grid → building → device):
 * the nearest level wins, field by field. Held in memory for the hot path; every change bumps
 * `generation`, which tells the engine to recompute a device's rules at its next reading.
 */
export class OverrideSet {
  generation = 0;
  private readonly byScope = new Map<string, Map<string, OverrideParams>>();

  constructor(overrides: Override[] = []) {
    for (const o of overrides) this.put(o.scopeKind, o.scopeId, o.ruleId, o.params);
  }

  put(scopeKind: ScopeKind, scopeId: string, ruleId: string, params: OverrideParams): void {
    const key = `${scopeKind}:${scopeId}`;
    let rules = this.byScope.get(key);
    if (!rules) this.byScope.set(key, (rules = new Map()));
    rules.set(ruleId, params);
    this.generation++;
  }

  remove(scopeKind: ScopeKind, scopeId: string, ruleId: string): void {
    if (this.byScope.get(`${scopeKind}:${scopeId}`)?.delete(ruleId)) this.generation++;
  }

  /** The layers that apply to `ruleId` on a device placed at `p`, farthest first. */
  layers(p: Placement, ruleId: string): OverrideLayer[] {
    const out: OverrideLayer[] = [];
    for (const scope of [...orgChain(p).map((id) => `org:${id}`), `device:${p.deviceId}`]) {
      const params = this.byScope.get(scope)?.get(ruleId);
      if (params) out.push({ scope, params });
    }
    return out;
  }

  /** The rule as it applies to the device placed at `p`. */
  effective(rule: Rule, p: Placement): EffectiveRule {
    return applyOverrides(rule, this.layers(p, rule.id));
  }
}

export async function loadOverrides(db: Queryable): Promise<Override[]> {
  const { rows } = await db.query<{ scope_kind: ScopeKind; scope_id: string; rule_id: string; params: OverrideParams; updated_at: Date }>(
    'SELECT scope_kind, scope_id, rule_id, params, updated_at FROM rule_overrides ORDER BY scope_kind, scope_id, rule_id',
  );
  return rows.map((r) => ({ scopeKind: r.scope_kind, scopeId: r.scope_id, ruleId: r.rule_id, params: r.params, updatedAt: r.updated_at }));
}

export async function saveOverride(db: Queryable, o: { scopeKind: ScopeKind; scopeId: string; ruleId: string; params: OverrideParams }): Promise<Date> {
  const { rows } = await db.query<{ updated_at: Date }>(
    `INSERT INTO rule_overrides (scope_kind, scope_id, rule_id, params, updated_at) VALUES ($1, $2, $3, $4, now())
     ON CONFLICT (scope_kind, scope_id, rule_id) DO UPDATE SET params = EXCLUDED.params, updated_at = now()
     RETURNING updated_at`,
    [o.scopeKind, o.scopeId, o.ruleId, JSON.stringify(o.params)],
  );
  return rows[0]!.updated_at;
}

export async function deleteOverride(db: Queryable, scopeKind: ScopeKind, scopeId: string, ruleId: string): Promise<boolean> {
  const r = await db.query('DELETE FROM rule_overrides WHERE scope_kind = $1 AND scope_id = $2 AND rule_id = $3', [scopeKind, scopeId, ruleId]);
  return (r.affectedRows ?? 0) > 0;
}

/** An override as the API and the site file state it: one rule, one scope (an org unit or a device). */
export interface OverrideInput {
  ruleId: string;
  orgUnitId?: string;
  deviceId?: string;
  params: unknown;
}

export type OverrideCheck =
  | { ok: true; scopeKind: ScopeKind; scopeId: string; ruleId: string; params: OverrideParams }
  | { ok: false; field: string; message: Text };

/**
 * Validates an override against the catalog and the store, the same way for the API (a bad-request answer naming
 * the field) and the site file (a start-up error naming the entry).
 */
export async function checkOverride(db: Queryable, catalog: Catalog, input: OverrideInput): Promise<OverrideCheck> {
  const found = catalog.rule(input.ruleId);
  if (!found) return { ok: false, field: 'ruleId', message: { zh: `设备目录中没有规则“${input.ruleId}”`, en: `no rule "${input.ruleId}" in the catalog` } };
  if ((input.orgUnitId === undefined) === (input.deviceId === undefined)) return { ok: false, field: 'orgUnitId', message: { zh: 'orgUnitId 与 deviceId 须且只须给出一个', en: 'give exactly one of orgUnitId or deviceId' } };
  const parsed = overrideParamsSchema.safeParse(input.params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.code === 'unrecognized_keys' ? issue.keys[0] : issue.path.join('.');
    return { ok: false, field: `params${key ? '.' + key : ''}`, message: issue.code === 'unrecognized_keys' ? `unknown parameter ${issue.keys.join(', ')}` : issue.message };
  }
  const params = parsed.data;
  const unknown = unknownParam(found.rule, params);
  if (unknown) return { ok: false, ...unknown };
  let scopeKind: ScopeKind;
  let scopeId: string;
  if (input.deviceId !== undefined) {
    const { rows } = await db.query<{ type: string }>('SELECT type FROM devices WHERE id = $1', [input.deviceId]);
    if (!rows[0]) return { ok: false, field: 'deviceId', message: { zh: `没有设备“${input.deviceId}”`, en: `no device "${input.deviceId}"` } };
    if (rows[0].type !== found.type.id) return { ok: false, field: 'deviceId', message: { zh: `设备 ${input.deviceId} 的类型是 ${rows[0].type}，规则 ${input.ruleId} 适用于 ${found.type.id}`, en: `device ${input.deviceId} is a ${rows[0].type}; rule ${input.ruleId} is for ${found.type.id}` } };
    scopeKind = 'device';
    scopeId = input.deviceId;
  } else {
    const { rows } = await db.query('SELECT 1 FROM org_units WHERE id = $1', [input.orgUnitId]);
    if (!rows[0]) return { ok: false, field: 'orgUnitId', message: { zh: `没有组织单元“${input.orgUnitId}”`, en: `no org unit "${input.orgUnitId}"` } };
    scopeKind = 'org';
    scopeId = input.orgUnitId!;
  }
  const problem = effectiveProblem(applyOverrides(found.rule, [{ scope: `${scopeKind}:${scopeId}`, params }]));
  if (problem) return { ok: false, ...problem };
  return { ok: true, scopeKind, scopeId, ruleId: input.ruleId, params };
}

/** Writes a site file's overrides into a freshly seeded store; a bad entry stops the start, named. */
export async function seedOverrides(db: Queryable, catalog: Catalog, entries: OverrideInput[], source: string): Promise<number> {
  for (const [i, e] of entries.entries()) {
    const c = await checkOverride(db, catalog, e);
    if (!c.ok) throw new Error(`${source}: ruleOverrides[${i}].${c.field}: ${inLanguage(c.message, 'en')}`);
    await saveOverride(db, c);
  }
  return entries.length;
}
