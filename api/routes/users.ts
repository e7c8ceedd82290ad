import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import { contactsSchema, type ContactsInput } from '../../core/contacts.ts';
import { idSchema } from '../../core/ids.ts';
import { generateSecret, tokenDigest } from '../../core/secrets.ts';
import { getOrgUnit, listOrgUnits } from '../../core/store/org.ts';
import { ROLE_LABELS } from '../../core/vocabulary.ts';
import { contactsOf, insertUser, listUsers, NO_CONTACTS, setContacts, type Contacts, onDuty, revokedUsers, revokeUser, setDuty, setUserToken, getUser } from '../../core/store/users.ts';
import { audited } from '../audit.ts';
import { DEPARTMENTS, DISPATCHERS, ROLES } from '../../core/domain.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import type { ApiDeps, App } from '../deps.ts';

const userBody = contactsSchema.extend({
  id: idSchema.optional(),
  name: z.string().min(1).max(100),
  role: z.enum(ROLES),
  gridIds: z.array(z.string()).default([]),
  communityIds: z.array(z.string()).default([]),
  department: z.enum(DEPARTMENTS).optional(),
  buildingIds: z.array(z.string()).max(20).default([]).describe('residents: the buildings they live in (their registered address)'),
  streetIds: z.array(z.string()).max(20).default([]).describe('street dispatchers: their streets (omitted: the site\'s one street)'),
});

/**
 * Sets what is given of an active person's contacts, with its audit entry (an admin for anyone,
 * a person for themself: PUT /users/:id/contacts, PUT /me/contacts); undefined if there is no
 * such person.
 */
export async function changeContacts(deps: ApiDeps, req: FastifyRequest, id: string, body: ContactsInput): Promise<({ id: string } & Contacts) | undefined> {
  const before = (await contactsOf(deps.db, [id])).get(id);
  if (!before) return undefined;
  await audited(deps.db, req, { action: 'user.contacts', targetKind: 'user', targetId: id, before }, (tx) => setContacts(tx, id, body), () => body);
  return { id, ...(await contactsOf(deps.db, [id])).get(id)! };
}

/** Who may be on duty for which kind of unit: its work goes to them. */
const ON_DUTY_ROLE = { grid: 'grid_worker', ...DISPATCHERS } as const;

export default async function userRoutes(app: App, deps: ApiDeps) {
  app.post('/users', {
    schema: { tags: ['users'], summary: 'Adds a user (grid worker, property staff, department, resident, …); the bearer token is returned once and stored only hashed', body: userBody },
  }, async (req, reply) => {
    const b = req.body;
    if (b.role === 'department' && !b.department) throw badRequest('department', { zh: '职能部门角色必须指明部门', en: 'required for the department role' });
    if (b.role === 'grid_worker' && b.gridIds.length === 0) throw badRequest('gridIds', { zh: '网格员至少负责一个网格', en: 'a grid worker serves at least one grid' });
    if (b.role === 'community_dispatcher' && b.communityIds.length === 0) throw badRequest('communityIds', { zh: '社区调度员至少负责一个社区', en: 'a community dispatcher serves at least one community' });
    if (b.role === 'street_dispatcher' && b.streetIds.length === 0) {
      // A platform runs one street office as a rule: its command centre needs no naming.
      const streets = (await listOrgUnits(deps.db)).filter((u) => u.kind === 'street');
      if (streets.length !== 1) throw badRequest('streetIds', { zh: '请指明街道指挥中心负责的街道', en: 'name the streets this street dispatcher serves' });
      b.streetIds = [streets[0]!.id];
    }
    for (const x of b.streetIds) if ((await getOrgUnit(deps.db, x))?.kind !== 'street') throw badRequest('streetIds', { zh: `没有街道“${x}”`, en: `no street "${x}"` });
    for (const g of b.gridIds) if ((await getOrgUnit(deps.db, g))?.kind !== 'grid') throw badRequest('gridIds', { zh: `没有网格“${g}”`, en: `no grid "${g}"` });
    for (const c of b.communityIds) if ((await getOrgUnit(deps.db, c))?.kind !== 'community') throw badRequest('communityIds', { zh: `没有社区“${c}”`, en: `no community "${c}"` });
    for (const x of b.buildingIds) if ((await getOrgUnit(deps.db, x))?.kind !== 'building') throw badRequest('buildingIds', { zh: `没有楼栋“${x}”`, en: `no building "${x}"` });
    // `admin` and `platform` are the admin token's and the platform's own names on timelines and the audit trail.
    if (b.id === 'admin' || b.id === 'platform') throw badRequest('id', { zh: `“${b.id}”为保留名称`, en: `"${b.id}" is reserved` });
    const id = b.id ?? `${b.role.replace('_', '-')}-${generateSecret().slice(0, 8).toLowerCase()}`;
    const token = generateSecret();
    const record = { id, name: b.name, role: b.role, gridIds: b.gridIds, communityIds: b.communityIds, department: b.department ?? null, buildingIds: b.buildingIds, streetIds: b.streetIds };
    const contacts = { phone: b.phone, wecomUserId: b.wecomUserId, dingtalkUserId: b.dingtalkUserId, channels: b.channels, notifyProgress: b.notifyProgress };
    const created = await audited(deps.db, req, { action: 'user.create', targetKind: 'user', targetId: id }, async (tx) => {
      const inserted = await insertUser(tx, { ...record, tokenSha256: tokenDigest(token).toString('hex') });
      if (inserted) await setContacts(tx, id, contacts);
      return inserted;
    }, () => ({ ...record, contacts }));
    if (!created) throw conflict({ zh: `用户 ${id} 已存在`, en: `user ${id} already exists` });
    req.log.info({ userId: id, role: b.role }, 'user added');
    return reply.code(201).send({ id, role: b.role, token });
  });

  app.get('/users', {
    schema: { tags: ['users'], summary: 'Users (never their tokens)', querystring: z.object({ role: z.enum(ROLES).optional() }) },
  }, async (req) => {
    const [users, revoked, contacts] = await Promise.all([listUsers(deps.db, { ...req.query, withRevoked: true }), revokedUsers(deps.db), contactsOf(deps.db)]);
    const items = users.map((u) => ({ ...u, ...(contacts.get(u.id) ?? NO_CONTACTS), revoked: revoked.has(u.id) }));
    return { items, total: items.length };
  });

  app.put('/users/:id/contacts', {
    schema: { tags: ['users'], summary: 'Sets how a person is reached: phone, 企业微信 and 钉钉 ids, the channels they want, a resident\'s progress notices (fields left out keep their value)', params: z.object({ id: z.string() }), body: contactsSchema },
  }, async (req) => {
    const changed = await changeContacts(deps, req, req.params.id, req.body);
    if (!changed) throw notFound('active user', req.params.id);
    return changed;
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

  app.put('/duty/:unitId', {
    schema: {
      tags: ['users'],
      summary: 'Puts someone on duty: a grid worker for a grid (its new work orders go to them), a community or street dispatcher for their community or street (items escalated there go to them)',
      params: z.object({ unitId: z.string() }),
      body: z.object({ userId: z.string() }),
    },
  }, async (req) => {
    const unitId = req.params.unitId;
    const unit = await getOrgUnit(deps.db, unitId);
    if (unit?.kind !== 'grid' && unit?.kind !== 'community' && unit?.kind !== 'street') throw notFound('org unit', unitId);
    const user = await getUser(deps.db, req.body.userId);
    const serves = unit.kind === 'grid' ? user?.gridIds.includes(unitId) : unit.kind === 'community' ? user?.communityIds.includes(unitId) : user?.streetIds?.includes(unitId);
    if (user?.role !== ON_DUTY_ROLE[unit.kind] || !serves) throw badRequest('userId', { zh: `${req.body.userId} 不是${unit.name}的${ROLE_LABELS[ON_DUTY_ROLE[unit.kind]].zh}`, en: `${req.body.userId} is not a ${ON_DUTY_ROLE[unit.kind]} of ${unitId}` });
    const before = { userId: (await onDuty(deps.db, unitId)) ?? null };
    await audited(deps.db, req, { action: 'duty.set', targetKind: unit.kind, targetId: unitId, before }, (tx) => setDuty(tx, unitId, user.id), () => ({ userId: user.id }));
    return { unitId, ...(unit.kind === 'grid' ? { gridId: unitId } : {}), userId: user.id };
  });
}
