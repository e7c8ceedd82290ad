import { z } from 'zod';
import { deleteOverride, checkOverride, loadOverrides, saveOverride, type ScopeKind } from '../../rules/overrides.ts';
import { overrideParamsSchema, paramsInForce, PARAMS_BY_KIND, type OverrideParams } from '../../rules/params.ts';
import { inScope } from '../../core/reach.ts';
import { placedOf } from './devices.ts';
import { audited } from '../audit.ts';
import { badRequest, notFound } from '../errors.ts';
import type { ApiDeps, App } from '../deps.ts';

const scope = {
  ruleId: z.string(),
  orgUnitId: z.string().optional().describe('street, community, grid, micro-grid or building id'),
  deviceId: z.string().optional(),
};

/** An override as the API shows it: the scope named as the request names it. */
const overrideView = (o: { ruleId: string; scopeKind: ScopeKind; scopeId: string; params: OverrideParams }, updatedAt: Date) => ({
  ruleId: o.ruleId,
  [o.scopeKind === 'org' ? 'orgUnitId' : 'deviceId']: o.scopeId,
  params: o.params,
  updatedAt: updatedAt.toISOString(),
});

export default async function ruleRoutes(app: App, deps: ApiDeps) {
  app.get('/rules', {
    schema: { tags: ['rules'], summary: 'The catalog\'s alarm rules with their default parameters and what each raises' },
  }, async () => {
    const items = [...deps.catalog.types.values()].flatMap((t) =>
      t.rules.map((r) => ({ id: r.id, type: t.id, kind: r.kind, description: r.description, raises: r.raises ?? null, overridable: PARAMS_BY_KIND[r.kind], defaults: paramsInForce({ ...r, enabled: true, sources: {} }) })),
    );
    return { items, total: items.length };
  });

  app.get('/rule-overrides', {
    schema: { tags: ['rules'], summary: 'Rule parameters overridden somewhere in the org tree', querystring: z.object({ ruleId: z.string().optional(), scopeId: z.string().optional() }) },
  }, async (req) => {
    const items = (await loadOverrides(deps.db))
      .filter((o) => (!req.query.ruleId || o.ruleId === req.query.ruleId) && (!req.query.scopeId || o.scopeId === req.query.scopeId))
      .map((o) => overrideView(o, o.updatedAt));
    return { items, total: items.length };
  });

  app.put('/rule-overrides', {
    schema: {
      tags: ['rules'],
      summary: 'Sets a rule\'s parameters for an org unit or a device (the nearest level wins); in force at the next reading',
      body: z.object({ ...scope, params: overrideParamsSchema }),
    },
  }, async (req) => {
    const c = await checkOverride(deps.db, deps.catalog, req.body);
    if (!c.ok) throw badRequest(c.field, c.message);
    const previous = (await loadOverrides(deps.db)).find((o) => o.ruleId === c.ruleId && o.scopeKind === c.scopeKind && o.scopeId === c.scopeId);
    const updatedAt = await audited(deps.db, req, { action: 'rule_override.set', targetKind: 'rule_override', targetId: `${c.ruleId}@${c.scopeKind}:${c.scopeId}`, before: previous ? { params: previous.params } : null }, (tx) => saveOverride(tx, c), () => ({ params: c.params }));
    deps.rules.putOverride(c.scopeKind, c.scopeId, c.ruleId, c.params);
    req.log.info({ ruleId: c.ruleId, scopeKind: c.scopeKind, scopeId: c.scopeId, params: c.params }, 'rule override set');
    return overrideView(c, updatedAt);
  });

  app.delete('/rule-overrides', {
    schema: { tags: ['rules'], summary: 'Removes an override; the level above (or the default) applies again', querystring: z.object(scope) },
  }, async (req, reply) => {
    const { ruleId, orgUnitId, deviceId } = req.query;
    if ((orgUnitId === undefined) === (deviceId === undefined)) throw badRequest('orgUnitId', { zh: 'orgUnitId 与 deviceId 须且只须给出一个', en: 'give exactly one of orgUnitId or deviceId' });
    const scopeKind = deviceId !== undefined ? 'device' : 'org';
    const scopeId = (deviceId ?? orgUnitId)!;
    const previous = (await loadOverrides(deps.db)).find((o) => o.ruleId === ruleId && o.scopeKind === scopeKind && o.scopeId === scopeId);
    if (!(await audited(deps.db, req, { action: 'rule_override.delete', targetKind: 'rule_override', targetId: `${ruleId}@${scopeKind}:${scopeId}`, before: previous ? { params: previous.params } : null }, (tx) => deleteOverride(tx, scopeKind, scopeId, ruleId), () => null))) throw notFound('override', `${ruleId}@${scopeId}`);
    deps.rules.removeOverride(scopeKind, scopeId, ruleId);
    return reply.code(204).send();
  });

  app.get('/devices/:id/rules', {
    config: { reach: 'devices' },
    schema: { tags: ['rules'], summary: 'The rules in force for a device, with where each overridden number comes from', params: z.object({ id: z.string() }) },
  }, async (req) => {
    const rules = deps.rules.effectiveRules(req.params.id);
    if (!rules || !inScope(req.scope, placedOf(deps, req.params.id))) throw notFound('device', req.params.id);
    return { items: rules.map((r) => ({ id: r.id, kind: r.kind, enabled: r.enabled, params: paramsInForce(r) })) };
  });
}
