import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { SERVICE_PREFIX } from '../../broker/identity.ts';
import { idSchema } from '../../core/ids.ts';
import { generateSecret, hashSecret } from '../../core/secrets.ts';
import { getDevice, insertDevices, listDevices, presenceHistory, REVOKED_SECRET, setDeviceSecret, type DeviceRecord } from '../../core/store/devices.ts';
import { audited } from '../audit.ts';
import { getOrgUnit } from '../../core/store/org.ts';
import { listDeadLetters } from '../../core/store/dead-letters.ts';
import { listReadings } from '../../core/store/readings.ts';
import { inScope, type Placed } from '../../core/reach.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import type { ApiDeps, App } from '../deps.ts';

const createBody = z.object({
  type: z.string().describe('catalog id, e.g. smoke-detector'),
  buildingId: z.string(),
  id: idSchema.refine((id) => !id.startsWith(SERVICE_PREFIX), `must not start with "${SERVICE_PREFIX}" (reserved for service accounts)`).optional(),
  name: z.string().max(200).optional(),
  protocol: z.enum(['mqtt', 'alink']).default('mqtt').describe('mqtt: our protocol (DESIGN §3); alink: Alibaba Cloud IoT\'s, with the Alink triple returned (README "Alink devices")'),
});

const alinkTriple = z.object({ productKey: z.string(), deviceName: z.string(), deviceSecret: z.string() }).describe('for "protocol": "alink": the triple to give the device, shown once (productKey is the type, deviceName the id)');
const credentials = z.object({ id: z.string(), type: z.string(), secret: z.string(), alink: alinkTriple.optional() });

const deviceView = z.object({
  id: z.string(),
  type: z.string(),
  buildingId: z.string(),
  name: z.string().nullable(),
  protocol: z.string(),
  online: z.boolean(),
  lastSeen: z.string().nullable(),
  latest: z.record(z.string(), z.unknown()),
});

/** Where a device hangs, for the reach check (a device the directory does not know is nobody's but the admin's). */
export const placedOf = (deps: ApiDeps, deviceId: string): Placed => {
  const p = deps.directory.get(deviceId);
  return { gridId: p?.gridId ?? null, communityId: p?.communityId ?? null };
};

const ALINK_OFF = { zh: '本节点未启用 Alink：集群中每个节点都需设置相同的 ALINK_SECRET_KEY', en: 'Alink is off on this node: a cluster needs the same ALINK_SECRET_KEY on every node' };

/** What a device is given, once: its secret, and for an Alink device the triple (its deviceSecret is the secret). */
function credentialsOf(deps: ApiDeps, d: { id: string; type: string; protocol: string; secretHash: string }, secret: string) {
  const alink = d.protocol === 'alink' ? deps.broker.alinkTriple(d) : undefined;
  return { id: d.id, type: d.type, secret: alink?.deviceSecret ?? secret, ...(alink ? { alink } : {}) };
}

export default async function deviceRoutes(app: App, deps: ApiDeps) {
  // Presence is the broker's live view (the store's lags by up to a second).
  const view = (d: DeviceRecord) => ({ id: d.id, type: d.type, buildingId: d.buildingId, name: d.name, protocol: d.protocol, online: deps.broker.isOnline(d.id), lastSeen: d.lastSeen?.toISOString() ?? null, latest: d.latest });
  app.post('/devices', {
    schema: {
      tags: ['devices'],
      summary: 'Register a device; its MQTT secret is returned once and stored only hashed',
      body: createBody,
      response: { 201: credentials },
    },
  }, async (req, reply) => {
    const { type, buildingId, name, protocol } = req.body;
    if (!deps.catalog.get(type)) throw badRequest('type', { zh: `未知的设备类型“${type}”，已知：${deps.catalog.ids().join('、')}`, en: `unknown device type "${type}"; known: ${deps.catalog.ids().join(', ')}` });
    const building = await getOrgUnit(deps.db, buildingId);
    if (building?.kind !== 'building') throw badRequest('buildingId', { zh: `没有编号为“${buildingId}”的楼栋`, en: `no building with id "${buildingId}"` });
    if (protocol === 'alink' && !deps.broker.alinkTriple({ id: 'x', type, secretHash: 'x' })) throw badRequest('protocol', ALINK_OFF);
    const id = req.body.id ?? `${type}-${randomBytes(5).toString('hex')}`;
    const secret = generateSecret();
    const secretHash = await hashSecret(secret);
    const existing = await audited(deps.db, req, { action: 'device.create', targetKind: 'device', targetId: id }, (tx) => insertDevices(tx, [{ id, type, buildingId, name, secretHash, protocol }]), () => ({ type, buildingId, name: name ?? null, protocol }));
    if (existing.length) throw conflict({ zh: `设备 ${id} 已存在`, en: `device ${id} already exists` });
    await deps.rules.addDevice(id);
    req.log.info({ deviceId: id, type, buildingId, protocol }, 'device registered');
    return reply.code(201).send(credentialsOf(deps, { id, type, protocol, secretHash }, secret));
  });

  app.post('/devices/:id/secret', {
    schema: { tags: ['devices'], summary: 'Gives a device a new secret (shown once); the old one stops working and a live connection is closed', params: z.object({ id: z.string() }) },
  }, async (req) => {
    const secret = generateSecret();
    const secretHash = await hashSecret(secret);
    if (!(await audited(deps.db, req, { action: 'device.rotate_secret', targetKind: 'device', targetId: req.params.id }, (tx) => setDeviceSecret(tx, req.params.id, secretHash), () => ({ rotated: true })))) throw notFound('device', req.params.id);
    const device = (await getDevice(deps.db, req.params.id))!;
    return { ...credentialsOf(deps, { ...device, secretHash }, secret), connectionsClosed: deps.broker.revokeCredentials(req.params.id) };
  });

  app.post('/devices/:id/revoke', {
    schema: { tags: ['devices'], summary: 'Revokes a device\'s secret (a stolen sensor): refused at once, its live connection closed, until it is given a new one', params: z.object({ id: z.string() }) },
  }, async (req) => {
    if (!(await audited(deps.db, req, { action: 'device.revoke', targetKind: 'device', targetId: req.params.id }, (tx) => setDeviceSecret(tx, req.params.id, REVOKED_SECRET), () => ({ revoked: true })))) throw notFound('device', req.params.id);
    return { id: req.params.id, revoked: true, connectionsClosed: deps.broker.revokeCredentials(req.params.id) };
  });

  app.get('/devices/:id', {
    config: { reach: 'devices' },
    schema: { tags: ['devices'], summary: 'A device with its presence and latest properties', params: z.object({ id: z.string() }), response: { 200: deviceView } },
  }, async (req) => {
    const d = await getDevice(deps.db, req.params.id);
    if (!d || !inScope(req.scope, placedOf(deps, d.id))) throw notFound('device', req.params.id);
    return view(d);
  });

  app.get('/devices', {
    config: { reach: 'devices' },
    schema: {
      tags: ['devices'],
      summary: 'Devices within the caller\'s reach with their presence and latest properties, by id',
      querystring: z.object({
        type: z.string().optional(),
        buildingId: z.string().optional(),
        gridId: z.string().optional(),
        communityId: z.string().optional(),
        online: z.enum(['true', 'false']).optional(),
        limit: z.coerce.number().int().min(1).max(500).default(100),
        offset: z.coerce.number().int().min(0).default(0),
      }),
      response: { 200: z.object({ items: z.array(deviceView.extend({ gridId: z.string().nullable(), communityId: z.string().nullable() })), total: z.number() }) },
    },
  }, async (req) => {
    const q = req.query;
    // Where a device hangs is the directory's; the reach and the place filters are checked on it
    // (an admin's unfiltered list needs no ids).
    const narrowed = req.scope.kind !== 'all' || q.buildingId || q.gridId || q.communityId;
    const ids = narrowed
      ? [...deps.directory.all()].filter((p) => inScope(req.scope, p) && (!q.buildingId || p.buildingId === q.buildingId) && (!q.gridId || p.gridId === q.gridId) && (!q.communityId || p.communityId === q.communityId)).map((p) => p.deviceId)
      : undefined;
    const online = q.online === undefined ? undefined : q.online === 'true';
    const { items, total } = await listDevices(deps.db, { ids, type: q.type, online, limit: q.limit, offset: q.offset });
    return { items: items.map((d) => ({ ...view(d), ...placedOf(deps, d.id) })), total };
  });

  app.get('/devices/:id/presence', {
    config: { reach: 'devices' },
    schema: {
      tags: ['devices'],
      summary: 'When a device went online and offline, newest first',
      params: z.object({ id: z.string() }),
      querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
      response: { 200: z.object({ items: z.array(z.object({ at: z.string(), online: z.boolean() })) }) },
    },
  }, async (req) => {
    if (!inScope(req.scope, placedOf(deps, req.params.id))) throw notFound('device', req.params.id);
    return { items: (await presenceHistory(deps.db, req.params.id, req.query.limit)).map((p) => ({ at: p.at.toISOString(), online: p.online })) };
  });

  app.get('/devices/:id/readings', {
    config: { reach: 'devices' },
    schema: {
      tags: ['devices'],
      summary: 'Recent readings of a device from the embedded time series, newest first',
      params: z.object({ id: z.string() }),
      querystring: z.object({ kind: z.enum(['telemetry', 'event']).optional(), limit: z.coerce.number().int().min(1).max(10_000).default(100) }),
    },
  }, async (req) => {
    if (!inScope(req.scope, placedOf(deps, req.params.id))) throw notFound('device', req.params.id);
    const items = await listReadings(deps.db, { deviceId: req.params.id, kind: req.query.kind, limit: req.query.limit });
    return { items, total: items.length };
  });

  app.get('/dead-letters', {
    schema: {
      tags: ['devices'],
      summary: 'Rejected device messages with their reasons, newest first',
      querystring: z.object({ deviceId: z.string().optional(), reason: z.string().optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }),
    },
  }, async (req) => {
    const items = await listDeadLetters(deps.db, req.query);
    return { items, total: items.length };
  });
}
