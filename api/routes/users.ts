import { z } from 'zod';
import { idSchema } from '../../core/ids.ts';
import { generateSecret, tokenDigest } from '../../core/secrets.ts';
import { getOrgUnit } from '../../core/store/org.ts';
import { insertUser, listUsers, onDuty, revokedUsers, revokeUser, setDuty, setUserToken, getUser } from '../../core/store/users.ts';
import { audited } from '../audit.ts';
import { DEPARTMENTS, ROLES } from '../../core/domain.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import type { ApiDeps, App } from '../deps.ts';

const userBody = z.object({
  id: idSchema.optional(),
  name: z.string().min(1).max(100),
  role: z.enum(ROLES),
  gridIds: z.array(z.string()).default([]),
  communityIds: z.array(z.string()).default([]),
  department: z.enum(DEPARTMENTS).optional(),
  buildingIds: z.array(z.string()).max(20).default([]).describe('residents: the buildings they live in (their registered address)'),
});

export default async function userRoutes(app: App, deps: ApiDeps) {
  app.post('/users', {
    schema: { tags: ['users'], summary: 'Adds a user (grid worker, property staff, department, resident, …); the bearer token is returned once and stored only hashed', body: userBody },
  }, async (req, reply) => {
    const b = req.body;
    if (b.role === 'department' && !b.department) throw badRequest('department', 'required for the department role');
    if (b.role === 'grid_worker' && b.gridIds.length === 0) throw badRequest('gridIds', 'a grid worker serves at least one grid');
    for (const g of b.gridIds) if ((await getOrgUnit(deps.db, g))?.kind !== 'grid') throw badRequest('gridIds', `no grid "${g}"`);
    for (const c of b.communityIds) if ((await getOrgUnit(deps.db, c))?.kind !== 'community') throw badRequest('communityIds', `no community "${c}"`);
    for (const x of b.buildingIds) if ((await getOrgUnit(deps.db, x))?.kind !== 'building') throw badRequest('buildingIds', `no building "${x}"`);
    // `admin` and `platform` are the admin token's and the platform's own names on timelines and the audit trail.
    if (b.id === 'admin' || b.id === 'platform') throw badRequest('id', `"${b.id}" is reserved`);
    const id = b.id ?? `${b.role.replace('_', '-')}-${generateSecret().slice(0, 8).toLowerCase()}`;
    const token = generateSecret();
    const record = { id, name: b.name, role: b.role, gridIds: b.gridIds, communityIds: b.communityIds, department: b.department ?? null, buildingIds: b.buildingIds };
    const created = await audited(deps.db, req, { action: 'user.create', targetKind: 'user', targetId: id }, (tx) => insertUser(tx, { ...record, tokenSha256: tokenDigest(token).toString('hex') }), () => record);
    if (!created) throw conflict(`user ${id} already exists`);
    req.log.info({ userId: id, role: b.role }, 'user added');
    return reply.code(201).send({ id, role: b.role, token });
  });

  app.get('/users', {
    schema: { tags: ['users'], summary: 'Users (never their tokens)', querystring: z.object({ role: z.enum(ROLES).optional() }) },
  }, async (req) => {
    const [users, revoked] = await Promise.all([listUsers(deps.db, { ...req.query, withRevoked: true }), revokedUsers(deps.db)]);
    const items = users.map((u) => ({ ...u, revoked: revoked.has(u.id) }));
    return { items, total: items.length };
  });

  app.post('/users/:id/revoke', {
    schema: { tags: ['users'], summary: 'Revokes a user\'s token: refused at once', params: z.object({ id: z.string() }) },
  }, async (req) => {
    const ok = await audited(deps.db, req, { action: 'user.revoke', targetKind: 'user', targetId: req.params.id, before: { revoked: false } }, (tx) => revokeUser(tx, req.params.id), () => ({ revoked: true }));
    if (!ok) throw notFound('active user', req.params.id);
    return { id: req.params.id, revoked: true, streamsEnded: app.liveStreams.endAll(req.params.id) };
  });

  app.post('/users/:id/token', {
    schema: { tags: ['users'], summary: 'Gives a user a new token (shown once); the old one stops working', params: z.object({ id: z.string() }) },
  }, async (req) => {
    const token = generateSecret();
    const before = { revoked: (await revokedUsers(deps.db)).has(req.params.id) };
    const ok = await audited(deps.db, req, { action: 'user.rotate_token', targetKind: 'user', targetId: req.params.id, before }, (tx) => setUserToken(tx, req.params.id, tokenDigest(token).toString('hex')), () => ({ rotated: true, revoked: false }));
    if (!ok) throw notFound('user', req.params.id);
    return { id: req.params.id, token, streamsEnded: app.liveStreams.endAll(req.params.id) };
  });

  app.put('/duty/:gridId', {
    schema: { tags: ['users'], summary: 'Puts a grid worker on duty for a grid: its new work orders go to them', params: z.object({ gridId: z.string() }), body: z.object({ userId: z.string() }) },
  }, async (req) => {
    if ((await getOrgUnit(deps.db, req.params.gridId))?.kind !== 'grid') throw notFound('grid', req.params.gridId);
    const user = await getUser(deps.db, req.body.userId);
    if (user?.role !== 'grid_worker' || !user.gridIds.includes(req.params.gridId)) throw badRequest('userId', `${req.body.userId} is not a grid worker of ${req.params.gridId}`);
    const before = { userId: (await onDuty(deps.db, req.params.gridId)) ?? null };
    await audited(deps.db, req, { action: 'duty.set', targetKind: 'grid', targetId: req.params.gridId, before }, (tx) => setDuty(tx, req.params.gridId, user.id), () => ({ userId: user.id }));
    return { gridId: req.params.gridId, userId: user.id };
  });
}
