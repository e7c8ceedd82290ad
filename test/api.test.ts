import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paramsInForce } from '../rules/params.ts';
import { connect, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform();
});
afterAll(() => p?.dispose());

describe('HTTP API', () => {
  it('answers health without a token, with broker and ingest counters', async () => {
    const r = await p.api('GET', '/api/v1/health', undefined, null);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ok', broker: { clients: expect.any(Number) }, ingest: { received: expect.any(Number), stored: expect.any(Number), rejectedByReason: {} } });
  });

  it('wants a bearer token elsewhere: 401 JSON errors', async () => {
    expect(await p.api('GET', '/api/v1/org', undefined, null)).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    // Chinese by default; English for a caller who prefers it.
    expect(await p.api('GET', '/api/v1/org', undefined, 'wrong')).toMatchObject({ status: 401, body: { error: 'unauthorized', message: 'Bearer 令牌无效' } });
    expect(await p.api('GET', '/api/v1/org', undefined, 'wrong', { 'accept-language': 'en-US,en;q=0.9,zh;q=0.5' })).toMatchObject({ status: 401, body: { error: 'unauthorized', message: 'invalid bearer token' } });
  });

  it('returns the org tree street → community → grid → micro-grid → building', async () => {
    const { body } = await p.api('GET', '/api/v1/org');
    const street = body.items[0];
    expect(street).toMatchObject({ id: 'st-test', kind: 'street' });
    const building = street.children[0].children[0].children[0].children[0];
    expect(building).toMatchObject({ kind: 'building', id: 'b1', parentId: 'm-test' });
  });

  it('registers a device, shows its secret once, and the secret works on MQTT', async () => {
    const r = await p.api('POST', '/api/v1/devices', { type: 'smoke-detector', buildingId: 'b2', id: 'b2-smoke-new', name: '2号楼3单元' });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ id: 'b2-smoke-new', type: 'smoke-detector', secret: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/) });
    const stored = await p.db.query<{ secret_hash: string }>('SELECT secret_hash FROM devices WHERE id = $1', ['b2-smoke-new']);
    expect(stored.rows[0]!.secret_hash).toMatch(/^sha256\$[A-Za-z0-9_-]{43}$/);
    expect(stored.rows[0]!.secret_hash).not.toContain(r.body.secret);
    const view = await p.api('GET', '/api/v1/devices/b2-smoke-new');
    expect(view.body).toMatchObject({ id: 'b2-smoke-new', type: 'smoke-detector', online: false, lastSeen: null, latest: {} });
    expect(JSON.stringify(view.body)).not.toContain(r.body.secret);
    const client = await connect(p.mqttUrl, 'b2-smoke-new', r.body.secret);
    await client.endAsync();
    expect((await p.api('POST', '/api/v1/devices', { type: 'smoke-detector', buildingId: 'b2', id: 'b2-smoke-new' })).status).toBe(409);
  });

  it('generates an id when none is given', async () => {
    const r = await p.api('POST', '/api/v1/devices', { type: 'overflow-bin', buildingId: 'b2' });
    expect(r.status).toBe(201);
    expect(r.body.id).toMatch(/^overflow-bin-[0-9a-f]{10}$/);
  });

  it.each([
    [{ buildingId: 'b2' }, 'type'],
    [{ type: 'toaster', buildingId: 'b2' }, 'type'],
    [{ type: 'smoke-detector', buildingId: 'nowhere' }, 'buildingId'],
    [{ type: 'smoke-detector', buildingId: 'm-test' }, 'buildingId'],
    [{ type: 'smoke-detector', buildingId: 'b2', id: 'has/slash' }, 'id'],
    [{ type: 'smoke-detector', buildingId: 'b2', id: 'svc-pretender' }, 'id'],
  ])('answers 400 naming the field for %j', async (body, field) => {
    const r = await p.api('POST', '/api/v1/devices', body);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'bad_request', field });
    expect(r.body.message).toContain(field);
  });

  it('answers 404 for an unknown device and route', async () => {
    expect(await p.api('GET', '/api/v1/devices/nope')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect(await p.api('GET', '/api/v1/nothing-here')).toMatchObject({ status: 404, body: { error: 'not_found' } });
  });

  it('lists an offline rule for every device type and a low-battery rule for every type with a battery', async () => {
    const rules = (await p.api('GET', '/api/v1/rules')).body.items as { type: string; kind: string; raises: { item: string; category?: string } | null; defaults: { prop?: string } }[];
    for (const type of p.catalog.types.values()) {
      const mine = rules.filter((r) => r.type === type.id);
      expect(mine.filter((r) => r.kind === 'silence' && r.raises?.category === 'offline'), `${type.id}: offline`).toHaveLength(1);
      if ('batteryPct' in type.definition.props) expect(mine.filter((r) => r.defaults.prop === 'batteryPct' && r.raises?.item === 'ticket'), `${type.id}: low battery`).toHaveLength(1);
    }
    expect(new Set(rules.filter((r) => r.defaults.prop === 'batteryPct').map((r) => r.type))).toEqual(new Set(['smoke-detector', 'manhole-cover', 'overflow-bin']));
  });

  it('answers a refused work-item action with the domain error\'s code, mapped to its status in one place', async () => {
    const building = (await p.db.query<{ id: string }>(`SELECT id FROM org_units WHERE kind = 'building' LIMIT 1`)).rows[0]!.id;
    const t = (await p.api('POST', '/api/v1/tickets', { category: 'door', description: '门禁坏了', buildingId: building })).body;
    expect(await p.api('POST', `/api/v1/tickets/${t.id}/actions`, { action: 'verify' })).toMatchObject({ status: 409, body: { error: 'conflict', code: 'WI_NOT_ALLOWED', status: 'collected', allowed: expect.arrayContaining(['accept']) } });
    expect(await p.api('POST', `/api/v1/tickets/${t.id}/actions`, { action: 'whistle' })).toMatchObject({ status: 409, body: { code: 'WI_NOT_ALLOWED' } });
    expect(await p.api('POST', '/api/v1/tickets/TK-nope/actions', { action: 'accept' })).toMatchObject({ status: 404, body: { error: 'not_found', code: 'WI_NOT_FOUND' } });
    await p.api('POST', `/api/v1/tickets/${t.id}/actions`, { action: 'accept' });
    expect(await p.api('POST', `/api/v1/tickets/${t.id}/actions`, { action: 'dispatch', assigneeId: 'nobody' })).toMatchObject({ status: 400, body: { error: 'bad_request', code: 'WI_BAD_INPUT', field: 'assigneeId' } });
  });

  it('gives the vocabulary in Chinese and English, without a token', async () => {
    const r = await p.api('GET', '/api/v1/vocabulary', undefined, null);
    expect(r.status).toBe(200);
    const v = r.body;
    expect(v.statuses.collected).toEqual({ zh: '信息收集', en: 'Collected' });
    expect(v.statuses.closed.zh).toBe('核查结单');
    expect(v.departments.fire_brigade.zh).toBe('消防救援');
    expect(v.rules['smoke-density']).toEqual({ zh: '烟雾浓度超标', en: 'Smoke density ≥ 0.15 dB/m for 10 s' });
    const cjk = /[\u4e00-\u9fff]/;
    for (const type of p.catalog.types.values()) {
      expect(v.deviceTypes[type.id].zh).toMatch(cjk);
      for (const prop of Object.keys(type.definition.props)) expect(v.properties[type.id][prop].zh, `${type.id}.${prop}`).toMatch(cjk);
      for (const rule of type.rules) {
        expect(v.rules[rule.id].zh, rule.id).toMatch(cjk);
        // Every parameter the device page shows for the rule has its words.
        for (const key of Object.keys(paramsInForce({ ...rule, enabled: true, sources: {} }))) expect(v.ruleParams[key]?.zh, `${rule.id}.${key}`).toMatch(cjk);
      }
    }
    for (const group of ['statuses', 'actions', 'severities', 'departments', 'roles', 'levels', 'itemKinds', 'directions']) for (const l of Object.values(v[group]) as { zh: string; en: string }[]) expect(l.zh).toMatch(cjk);
  });

  it('serves OpenAPI generated from the zod schemas', async () => {
    const res = await fetch(`http://127.0.0.1:${p.ports.http}/docs/json`);
    const doc = (await res.json()) as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/health', '/api/v1/org', '/api/v1/devices', '/api/v1/devices/{id}', '/api/v1/service-accounts',
      '/api/v1/alarms', '/api/v1/work-orders', '/api/v1/work-orders/{id}', '/api/v1/work-orders/{id}/actions', '/api/v1/tickets', '/api/v1/tickets/{id}', '/api/v1/tickets/{id}/actions',
      '/api/v1/grids/{id}/profile', '/api/v1/users', '/api/v1/events', '/api/v1/rule-overrides']));
    expect(JSON.stringify(doc.paths['/api/v1/devices']!.post!.requestBody)).toContain('buildingId');
  });
});
