import { z } from 'zod';
import { DEPARTMENTS, isDispatcher, LEVELS, SEVERITIES } from '../../core/domain.ts';
import { ROLE_LABELS } from '../../core/vocabulary.ts';
import { PHOTO_ID } from '../../work-items/photos.ts';
import { REFUSALS } from '../../work-items/texts.ts';
import type { User } from '../../core/store/users.ts';
import { DomainError } from '../../core/errors.ts';
import { listItems, whistles } from '../../work-items/store.ts';
import type { WorkItemEvent } from '../../work-items/events.ts';
import { ACTIONS, STATUSES } from '../../work-items/transitions.ts';
import { canSee } from '../../work-items/access.ts';
import { inScope, scopeFor } from '../../core/reach.ts';
import { gridProfile } from '../../work-items/profile.ts';
import { getOrgUnit, gridsOf } from '../../core/store/org.ts';
import { listUsers } from '../../core/store/users.ts';
import { ApiError, badRequest, forbidden, notFound } from '../errors.ts';
import type { ApiDeps, App } from '../deps.ts';

const listQuery = z.object({
  status: z.enum(STATUSES).optional(),
  severity: z.enum(SEVERITIES).optional(),
  gridId: z.string().optional(),
  deviceId: z.string().optional(),
  assigneeId: z.string().optional().describe('items assigned to this person (`me`: the caller)'),
  level: z.enum(LEVELS).optional().describe('work orders escalated to this level (grid, community, street)'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

/** Photos are ids of the caller's uploads (POST /api/v1/photos), never links. */
const photos = z.array(z.string().regex(PHOTO_ID, 'a photo id from POST /api/v1/photos')).max(20);
const actionBody = z.object({
  action: z.enum(ACTIONS),
  note: z.string().max(2000).optional(),
  photos: photos.optional(),
  assigneeId: z.string().optional().describe('dispatch / transfer: who takes it (tickets: omitted = round-robin among the compound\'s staff)'),
  departments: z.array(z.enum(DEPARTMENTS)).optional().describe('whistle: the departments to call in'),
  department: z.enum(DEPARTMENTS).optional().describe('report_in / resolve: recorded on this whistled department\'s behalf (代报到)'),
  rating: z.object({ overall: z.number().int().min(1).max(5), speed: z.number().int().min(1).max(5), service: z.number().int().min(1).max(5), comment: z.string().max(1000).optional() }).optional(),
  revisit: z.object({ result: z.enum(['satisfied', 'fair', 'unsatisfied']), note: z.string().max(1000).optional() }).optional(),
  intoId: z.string().optional().describe('merge: the open item this duplicate folds into'),
});

const reportBody = z.object({
  category: z.string().min(1).max(50).describe('fire_exit_blocked, flying_wire_charging, fallen_tree, … (GET /api/v1/vocabulary: categories.workOrders), or your own words'),
  description: z.string().min(1).max(2000),
  buildingId: z.string().describe('the building it is at (routes it to that grid)'),
  place: z.string().max(100).optional().describe('where at the building: 3单元楼道, 北门外'),
  severity: z.enum(SEVERITIES).optional().describe('default major'),
  photos: photos.optional(),
});

/** Who raises 事件上报, and where: grid workers in their grids, dispatchers in their communities, residents anywhere on the street. */
function mayReport(u: User, p: { gridId: string | null; communityId: string | null }): true | 'role' | 'place' {
  if (u.role === 'admin' || u.role === 'resident') return true;
  if (u.role === 'grid_worker') return p.gridId !== null && u.gridIds.includes(p.gridId) ? true : 'place';
  if (isDispatcher(u.role)) return p.communityId !== null && u.communityIds.includes(p.communityId) ? true : 'place';
  return 'role';
}

const ticketBody = z.object({
  category: z.string().min(1).max(50).describe('e.g. plumbing, electrical, elevator, sanitation'),
  description: z.string().min(1).max(2000),
  buildingId: z.string(),
  unit: z.string().max(20).optional(),
  room: z.string().max(20).optional(),
  photos: photos.optional(),
});

export default async function workItemRoutes(app: App, deps: ApiDeps) {
  /** Where the building an item is filed for hangs in the tree; a 400 naming the field if there is no such building. */
  const buildingOf = async (buildingId: string) => {
    const placement = await deps.directory.building(buildingId);
    if (!placement) throw badRequest('buildingId', { zh: `没有楼栋“${buildingId}”`, en: `no building "${buildingId}"` });
    return placement;
  };
  for (const [path, kind, reach] of [['/work-orders', 'work_order', 'work_orders'], ['/tickets', 'ticket', 'tickets']] as const) {
    const tag = kind === 'work_order' ? 'work orders' : 'tickets';
    const config = { reach };
    app.get(path, {
      config,
      schema: { tags: [tag], summary: `${tag} within the caller's reach, newest first`, querystring: listQuery },
    }, async (req) => {
      const { assigneeId, level, ...rest } = req.query;
      return listItems(deps.db, { kind, ...rest, assigneeId: assigneeId === 'me' ? req.user.id : assigneeId, escalationLevel: level, scope: req.scope });
    });

    app.get(`${path}/:id`, {
      config,
      schema: { tags: [tag], summary: 'One item with its timeline, whistles and the actions the caller may take now', params: z.object({ id: z.string() }) },
    }, async (req) => {
      const item = await deps.workItems.get(req.params.id, req.user);
      if (item.kind !== kind) throw new DomainError('WI_NOT_FOUND', REFUSALS.notFound(req.params.id));
      return item;
    });

    app.post(`${path}/:id/actions`, {
      config,
      schema: { tags: [tag], summary: 'Moves the item: accept, dispatch, grab, start, resolve, verify, reject, reopen, escalate, whistle, report_in, transfer, return, rate, revisit', params: z.object({ id: z.string() }), body: actionBody },
    }, async (req) => {
      const { action, ...input } = req.body;
      return deps.workItems.act(req.params.id, action, req.user, input);
    });
  }

  app.post('/work-orders', {
    config: { reach: 'work_orders' },
    schema: { tags: ['work orders'], summary: '事件上报: a grid worker\'s patrol finding or a resident\'s public-safety report becomes a grid work order, routed to the grid\'s worker on duty', body: reportBody },
  }, async (req, reply) => {
    const u = req.user;
    const placement = await buildingOf(req.body.buildingId);
    const may = mayReport(u, placement);
    if (may === 'role') throw forbidden({ zh: `${ROLE_LABELS[u.role].zh}不能事件上报`, en: `${u.role} may not raise work orders` });
    if (may === 'place') throw forbidden({ zh: `${placement.buildingId} 不在您负责的范围内`, en: `${placement.buildingId} is not within your grids or communities` });
    return reply.code(201).send(await deps.workItems.report(u, req.body, placement));
  });

  app.post('/tickets', {
    config: { reach: 'tickets' },
    schema: { tags: ['tickets'], summary: '一键报修: a resident (or property staff for them) files a repair ticket', body: ticketBody },
  }, async (req, reply) => {
    const u = req.user;
    if (!['resident', 'property_manager', 'property_staff', 'admin'].includes(u.role)) throw forbidden({ zh: `${ROLE_LABELS[u.role].zh}不能提交报修`, en: `${u.role} may not file tickets` });
    const placement = await buildingOf(req.body.buildingId);
    if ((u.role === 'property_manager' || u.role === 'property_staff') && !u.communityIds.includes(placement.communityId ?? '')) throw forbidden({ zh: '该楼栋不在您的物业小区内', en: 'that building is not in your compound' });
    // A resident files for where they live (their registered address), not for any building.
    if (u.role === 'resident' && !(u.buildingIds ?? []).includes(placement.buildingId)) throw forbidden({ zh: `${placement.buildingId} 不是您登记的住址`, en: `${placement.buildingId} is not your registered address` });
    return reply.code(201).send(await deps.workItems.fileTicket(u, req.body, placement));
  });

  app.get('/staff', {
    config: { reach: ['work_orders', 'tickets'] },
    schema: { tags: ['users'], summary: 'The people a caller can dispatch to: property staff of their compounds, grid workers of their grids (a dispatcher\'s: every grid worker below them)' },
  }, async (req) => {
    const u = req.user;
    const all = await listUsers(deps.db);
    // A dispatcher hands work to every grid worker of the grids under their communities.
    const grids = new Set([...u.gridIds, ...(isDispatcher(u.role) ? await gridsOf(deps.db, u.communityIds) : [])]);
    const items = all
      .filter((x) => x.role === 'property_staff' || x.role === 'grid_worker')
      .filter((x) => u.role === 'admin' || (x.role === 'property_staff' && x.communityIds.some((c) => u.communityIds.includes(c))) || x.gridIds.some((g) => grids.has(g)))
      .map(({ id, name, role, gridIds, communityIds }) => ({ id, name, role, gridIds, communityIds }));
    return { items, total: items.length };
  });

  // The rules that say a device is silent or low on battery, by their kind and property (the catalog's facets).
  const rules = [...deps.catalog.types.values()].flatMap((t) => t.rules);
  const healthRules = { silence: rules.filter((r) => r.kind === 'silence').map((r) => r.id), battery: rules.filter((r) => 'prop' in r && r.prop === 'batteryPct').map((r) => r.id) };
  for (const [path, kind] of [['/grids/:id/profile', 'grid'], ['/communities/:id/profile', 'community']] as const) {
    app.get(path, {
      config: { reach: 'profiles' },
      schema: { tags: ['work orders'], summary: `网格画像 of one ${kind}: items, response and closing times, SLA breaches, repeat devices, ratings, whistles; 完成率, 及时率, 好评率, 满意率; where items were closed; each grid's device health`, params: z.object({ id: z.string() }) },
    }, async (req) => {
      const u = req.user;
      const unit = await getOrgUnit(deps.db, req.params.id);
      if (unit?.kind !== kind) throw notFound(kind, req.params.id);
      const placed = kind === 'grid' ? { gridId: unit.id, communityId: unit.parentId } : { gridId: null, communityId: unit.id };
      if (!inScope(req.scope, placed)) throw forbidden({ zh: `无权查看 ${unit.name} 的画像`, en: `the profile of ${unit.id} (${u.role}) is not yours to see` });
      return gridProfile(deps.db, kind, unit.id, healthRules);
    });
  }

  app.get('/events', {
    config: { reach: ['work_orders', 'tickets'] },
    schema: { tags: ['work orders'], summary: 'Server-Sent Events: work-item events (`created`, `transition`, …) and alarms raised or cleared (`alarm`) within the caller\'s reach, as they happen' },
  }, async (req, reply) => {
    const release = deps.limits.sseStreams.acquire(req.user.id);
    if (!release) throw new ApiError(429, 'too_many_requests', { zh: `每个用户最多 ${deps.limits.sseStreams.max} 个实时事件流`, en: `at most ${deps.limits.sseStreams.max} live event streams per user` });
    req.raw.once('close', release);
    // (writeHead bypasses onSend: the stream's security headers are set here.)
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
    reply.raw.write(': connected\n\n');
    const user = req.user;
    const send = (e: WorkItemEvent) => {
      // Departments see what they were whistled to: that takes a look at the item's whistles.
      const whistled = user.role === 'department' ? whistles(deps.db, e.item.id) : Promise.resolve([]);
      void whistled.then(
        (w) => {
          if (canSee(user, e.item, w) && !reply.raw.destroyed) reply.raw.write(`event: ${e.event}\ndata: ${JSON.stringify(e)}\n\n`);
        },
        (err: Error) => req.log.error({ err, itemId: e.item.id }, 'SSE filter failed'),
      );
    };
    // The whole cluster's events: a browser's node is not the node the devices are on.
    const offItems = deps.bus.on(`sse:${user.id}`, 'work_item', send, { remote: true });
    // Alarms as they are raised and cleared, within the caller's reach of alarms (the overview's tiles).
    const alarms = scopeFor(user, 'alarms');
    const offAlarms = alarms.kind === 'none' ? () => {} : deps.bus.on(`sse:${user.id}`, 'alarm', (e) => {
      if (e.event !== 'updated' && inScope(alarms, e.alarm) && !reply.raw.destroyed) reply.raw.write(`event: alarm\ndata: ${JSON.stringify({ event: e.event, at: e.at, alarm: e.alarm })}\n\n`);
    }, { remote: true });
    const off = () => (offItems(), offAlarms());
    const ping = setInterval(() => reply.raw.write(': ping\n\n'), 15_000);
    // A revoked token ends its streams at once.
    const forget = app.liveStreams.add(user.id, () => reply.raw.end());
    req.raw.on('close', () => {
      clearInterval(ping);
      off();
      forget();
    });
    return reply;
  });
}
