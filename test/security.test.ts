import { readFileSync, statSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { connect, connectDevice, eventually, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

const SITE = path.join(import.meta.dirname, 'fixtures', 'security-site.json');
let p: TestPlatform;
let tokens: Record<string, string>;
const clients: MqttClient[] = [];

/** Who each person is, and what they may see (README "Work items", core/reach.ts). */
const PEOPLE = ['admin', 'sd-1', 'cd-1', 'gw-1', 'pm-1', 'ps-1', 'muni-1', 'res-1', 'nt-1'] as const;

beforeAll(async () => {
  p = await startTestPlatform({ SITE_FILE: SITE });
  tokens = Object.fromEntries((JSON.parse(readFileSync(path.join(p.dataDir, 'user-tokens.json'), 'utf8')).users as { id: string; token: string }[]).map((u) => [u.id, u.token]));
  // Data in both communities: fire work orders, an open manhole (municipal works whistled) in c2, tickets of two residents.
  for (const c of p.credentials) {
    const dev = await connectDevice(p, c);
    clients.push(dev);
    const props = c.type === 'smoke-detector' ? { alarm: true } : c.id.startsWith('b2') ? { open: true } : { open: false };
    await dev.publishAsync(`v1/${c.type}/${c.id}/telemetry`, JSON.stringify({ props }), { qos: 1 });
  }
  await p.rules.flush();
  await p.workItems.idle();
  await p.api('POST', '/api/v1/tickets', { category: 'door', description: '一号楼门禁坏了', buildingId: 'b1' }, tokens['res-1']);
  await p.api('POST', '/api/v1/tickets', { category: 'door', description: '二号楼门禁坏了', buildingId: 'b2' }, tokens['res-2']);
  await eventually(async () => (await p.api('GET', '/api/v1/work-orders')).body.total >= 3, 3000, 'work orders of both communities');
});
afterAll(async () => {
  for (const c of clients) await c.endAsync();
  await p?.dispose();
});

const as = (who: string) => (method: string, url: string, body?: unknown) => p.api(method, url, body, who === 'admin' ? undefined : tokens[who]);

describe('one access rule: every GET route, every role, nothing outside its reach', () => {
  it('walks every GET route of the OpenAPI document with every id, for all nine roles; nobody reads another person\'s contacts', async () => {
    const doc = (await (await fetch(`http://127.0.0.1:${p.ports.http}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths).filter(([url, ops]) => ops.get && url.startsWith('/api/v1/') && !['/api/v1/health', '/api/v1/events'].includes(url)).map(([url]) => url);
    expect(routes.length).toBeGreaterThan(15);
    // Every id there is, of every kind: each route is tried with each.
    const q = async (sql: string) => (await p.db.query<{ id: string }>(sql)).rows.map((r) => r.id);
    const ids = [...(await q('SELECT id FROM work_items')), ...(await q('SELECT id FROM alarms')), ...(await q('SELECT id FROM incidents')), ...(await q('SELECT id FROM devices')), ...(await q(`SELECT id FROM org_units WHERE kind IN ('grid','community')`))];
    const whistled = new Set((await p.db.query<{ item_id: string }>(`SELECT item_id FROM work_item_whistles WHERE department = 'municipal_works'`)).rows.map((r) => r.item_id));
    const placement = new Map((await p.db.query<{ id: string; grid: string; community: string }>(`SELECT d.id, g.id AS grid, c.id AS community FROM devices d JOIN org_units b ON b.id = d.building_id JOIN org_units m ON m.id = b.parent_id JOIN org_units g ON g.id = m.parent_id JOIN org_units c ON c.id = g.parent_id`)).rows.map((r) => [r.id, r]));

    /** Whether this person may see an object the API returned, by what it says about itself. */
    const allowed: Record<(typeof PEOPLE)[number], (o: Record<string, unknown>) => boolean> = {
      admin: () => true,
      // The street's command centre: the whole street (this site has one); a community's dispatcher: their community.
      'sd-1': () => true,
      'cd-1': (o) => placedIn(o, null, 'c1'),
      'gw-1': (o) => (isItem(o) ? o.kind === 'work_order' && o.gridId === 'g1' : placedIn(o, 'g1', null)),
      'pm-1': (o) => placedIn(o, null, 'c1'),
      'ps-1': (o) => isItem(o) && o.kind === 'ticket' && o.communityId === 'c1',
      'muni-1': (o) => isItem(o) && o.kind === 'work_order' && whistled.has(o.id as string),
      'res-1': (o) => isItem(o) && o.reporterId === 'res-1',
      // The notification flows' sign-in: every item (to tell the right people), no sensor data.
      'nt-1': (o) => isItem(o),
    };
    /** Who may read gw-1's phone number: admins, the notifier, gw-1. */
    const readsContacts = new Set(['admin', 'nt-1', 'gw-1']);
    const isItem = (o: Record<string, unknown>) => typeof o.id === 'string' && /^(WO|TK)-/.test(o.id) && 'status' in o;
    const placedIn = (o: Record<string, unknown>, grid: string | null, community: string | null) => {
      const dev = typeof o.deviceId === 'string' ? placement.get(o.deviceId) : typeof o.id === 'string' && 'type' in o ? placement.get(o.id) : undefined;
      const g = (o.gridId as string | null | undefined) ?? dev?.grid;
      const c = (o.communityId as string | null | undefined) ?? dev?.community;
      return grid ? g === grid : c === community;
    };
    /** Objects in an answer that carry a place or an owner: items, alarms, incidents, devices. */
    const placed = (v: unknown, out: Record<string, unknown>[] = []): Record<string, unknown>[] => {
      if (Array.isArray(v)) v.forEach((x) => placed(x, out));
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if ('gridId' in o || 'communityId' in o || 'reporterId' in o || ('deviceId' in o && 'ruleId' in o) || ('type' in o && 'online' in o)) out.push(o);
        for (const [k, x] of Object.entries(o)) if (k !== 'evidence') placed(x, out);
      }
      return out;
    };

    let checked = 0;
    let seen = 0;
    for (const who of PEOPLE) {
      const get = as(who);
      for (const route of routes) {
        const urls = route.includes('{') ? ids.map((id) => route.replace(/\{[^}]+\}/, encodeURIComponent(id))) : [route, `${route}?gridId=g2`, `${route}?communityId=c2`, `${route}?deviceId=b2-smoke-detector-1`];
        for (const url of urls) {
          const r = await get('GET', url);
          checked++;
          expect(r.status, `${who} GET ${url}`).not.toBe(500);
          if (r.status !== 200) continue;
          if (!readsContacts.has(who)) expect(JSON.stringify(r.body), `${who} GET ${url} shows gw-1's contacts`).not.toMatch(/13800000001|gw\.one/);
          for (const o of placed(r.body)) {
            seen++;
            expect(allowed[who](o), `${who} GET ${url} returned ${JSON.stringify(o).slice(0, 160)}`).toBe(true);
          }
          const body = r.body as { items?: unknown[]; total?: number };
          // A count says no more than the rows themselves (nothing hidden is counted).
          if (Array.isArray(body.items) && typeof body.total === 'number' && body.total < 50) expect(body.items.length, `${who} GET ${url}: total`).toBe(body.total);
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
    // The contacts check could fail: those who may read them do.
    expect(JSON.stringify((await as('admin')('GET', '/api/v1/users')).body)).toContain('13800000001');
    expect(JSON.stringify((await as('nt-1')('GET', '/api/v1/notify/directory')).body)).toContain('gw.one');
    expect((await as('gw-1')('GET', '/api/v1/me')).body).toMatchObject({ phone: '13800000001', wecomUserId: 'gw.one' });
    expect(seen).toBeGreaterThan(40);
    // And each one saw its own: the walk would pass trivially if everyone saw nothing.
    expect((await as('gw-1')('GET', '/api/v1/alarms')).body.total).toBeGreaterThan(0);
    expect((await as('pm-1')('GET', '/api/v1/tickets')).body.total).toBe(1);
    expect((await as('muni-1')('GET', '/api/v1/work-orders')).body.total).toBe(1);
    expect((await as('res-1')('GET', '/api/v1/tickets')).body.total).toBe(1);
    const all = (await as('admin')('GET', '/api/v1/work-orders')).body.total;
    expect((await as('sd-1')('GET', '/api/v1/work-orders')).body.total).toBe(all);
    expect((await as('cd-1')('GET', '/api/v1/work-orders')).body.total).toBeGreaterThan(0);
    expect((await as('cd-1')('GET', '/api/v1/work-orders')).body.total).toBeLessThan(all);
  });

  it('refuses whole kinds of data a role has no reach to with 403', async () => {
    expect((await as('res-1')('GET', '/api/v1/alarms')).status).toBe(403);
    expect((await as('ps-1')('GET', '/api/v1/work-orders')).status).toBe(403);
    expect((await as('gw-1')('GET', '/api/v1/tickets')).status).toBe(403);
    expect((await as('muni-1')('GET', '/api/v1/devices/b1-smoke-detector-1')).status).toBe(403);
    expect((await as('pm-1')('GET', '/api/v1/dead-letters')).status).toBe(403);
  });

  it('a resident files only for their registered address', async () => {
    const r = await as('res-1')('POST', '/api/v1/tickets', { category: 'door', description: '别人楼的门', buildingId: 'b2' });
    expect(r).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect(r.body.message).toContain('不是您登记的住址');
  });

  it('dispatches only to someone who can see the item', async () => {
    const wo = (await as('gw-1')('GET', '/api/v1/work-orders')).body.items[0];
    await as('gw-1')('POST', `/api/v1/work-orders/${wo.id}/actions`, { action: 'accept' });
    const r = await as('gw-1')('POST', `/api/v1/work-orders/${wo.id}/actions`, { action: 'dispatch', assigneeId: 'gw-2' });
    expect(r).toMatchObject({ status: 400, body: { code: 'WI_BAD_INPUT', field: 'assigneeId' } });
  });
});

describe('every change is recorded or not made', () => {
  it('U+0000 in a note is a 400 naming the field, and the item does not move', async () => {
    const t = (await as('res-1')('GET', '/api/v1/tickets')).body.items[0];
    const r = await as('pm-1')('POST', `/api/v1/tickets/${t.id}/actions`, { action: 'accept', note: 'ok\u0000then' });
    expect(r).toMatchObject({ status: 400, body: { error: 'bad_request', field: 'note' } });
    expect((await as('pm-1')('GET', `/api/v1/tickets/${t.id}`)).body).toMatchObject({ status: 'collected', version: t.version });
  });

  it('U+0000 or a lone surrogate anywhere in a path, query or body is a 400, never a 500', async () => {
    const cases: [string, string, unknown?][] = [
      ['GET', '/api/v1/devices/b1%00x'],
      ['GET', '/api/v1/alarms?gridId=g1%00'],
      ['GET', '/api/v1/work-orders?deviceId=%00'],
      ['GET', '/api/v1/tickets/TK-%00'],
      ['POST', '/api/v1/tickets', { category: 'x\u0000', description: 'd', buildingId: 'b1' }],
      ['POST', '/api/v1/tickets', { category: 'x', description: 'lone \ud800 surrogate', buildingId: 'b1' }],
      ['POST', '/api/v1/devices', { type: 'smoke-detector', buildingId: 'b1', name: 'n\u0000' }],
      ['PUT', '/api/v1/rule-overrides', { ruleId: 'smoke-heat', orgUnitId: 'g1\u0000', params: { trigger: 60 } }],
      ['POST', '/api/v1/users', { id: 'u\u0000', name: 'x', role: 'resident' }],
      ['POST', '/api/v1/service-accounts', { name: 'x', subscribe: ['a/\u0000'] }],
    ];
    for (const [method, url, body] of cases) {
      const r = await as('admin')(method, url, body);
      expect(r.status, `${method} ${url} ${JSON.stringify(body)}`).toBe(400);
      expect(r.body.error).toBe('bad_request');
    }
  });

  it('photos are ids of uploads, never links: javascript:, data:, vbscript:, file: and even https: are refused', async () => {
    for (const url of ['javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:msgbox', 'file:///etc/passwd', 'https://example.com/a.jpg']) {
      const r = await as('res-1')('POST', '/api/v1/tickets', { category: 'x', description: 'd', buildingId: 'b1', photos: [url] });
      expect(r, url).toMatchObject({ status: 400, body: { error: 'bad_request' } });
    }
  });
});

describe('on the network and on disk', () => {
  it('sends security headers, and no-store on API answers', async () => {
    const res = await fetch(`http://127.0.0.1:${p.ports.http}/api/v1/org`, { headers: { authorization: `bearer ${tokens['gw-1']}` } });
    expect(res.status).toBe(200); // the scheme is case-insensitive
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });

  it('keeps DATA_DIR 0700 and every file in it 0600', () => {
    const wrong: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const full = path.join(d, f);
        const st = statSync(full);
        if (st.isDirectory()) {
          if ((st.mode & 0o777) !== 0o700) wrong.push(`${full} ${(st.mode & 0o777).toString(8)}`);
          walk(full);
        } else if ((st.mode & 0o077) !== 0) wrong.push(`${full} ${(st.mode & 0o777).toString(8)}`);
      }
    };
    expect((statSync(p.dataDir).mode & 0o777).toString(8)).toBe('700');
    walk(p.dataDir);
    expect(wrong).toEqual([]);
  });

  it('listens on loopback unless told otherwise', () => {
    const c = loadConfig({}, {});
    expect([c.HTTP_HOST, c.MQTT_HOST]).toEqual(['127.0.0.1', '127.0.0.1']);
  });

  it('refuses to start with a weak admin token', async () => {
    await expect(startTestPlatform({ SITE_FILE: SITE, PLATFORM_ADMIN_TOKEN: 'a' })).rejects.toThrow(/PLATFORM_ADMIN_TOKEN is 1 characters long; use at least 24/);
    await expect(startTestPlatform({ SITE_FILE: SITE, PLATFORM_ADMIN_TOKEN: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' })).rejects.toThrow(/only 1 different characters/);
  });
});

/** An HTTP request from a chosen loopback address (the limits count per source address). */
function from(localAddress: string, token: string, url = '/api/v1/org'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: p.ports.http, path: url, localAddress, headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('client ids, deny filters, credentials and limits', () => {
  it('a service account cannot take a device\'s client id: CONNACK 2, and the device stays online', async () => {
    const sa = (await as('admin')('POST', '/api/v1/service-accounts', { name: 'telemetry only', subscribe: ['v1/+/+/telemetry'] })).body;
    const device = p.credentials.find((c) => c.type === 'manhole-cover')!;
    const err = await connect(p.mqttUrl, sa.username, sa.secret, { clientId: device.id }).then(() => undefined, (e: { code?: number }) => e);
    expect(err?.code).toBe(2);
    const err2 = await connect(p.mqttUrl, sa.username, sa.secret, { clientId: 'svc-someone-else' }).then(() => undefined, (e: { code?: number }) => e);
    expect(err2?.code).toBe(2);
    expect((await as('admin')('GET', `/api/v1/devices/${device.id}`)).body.online).toBe(true);
    const ok = await connect(p.mqttUrl, sa.username, sa.secret, { clientId: `${sa.username}-2` });
    await ok.endAsync();
  });

  it('deny filters: a subscription inside one is refused, a wider one is granted without the denied topics', async () => {
    const sa = (await as('admin')('POST', '/api/v1/service-accounts', { name: 'all but smoke', subscribe: ['#'], deny: ['v1/smoke-detector/#'] })).body;
    const c = await connect(p.mqttUrl, sa.username, sa.secret);
    const got: string[] = [];
    c.on('message', (topic) => got.push(topic));
    // mqtt.js rejects a SUBACK 0x80; the packet says what was granted.
    const inside = await c.subscribeAsync('v1/smoke-detector/+/telemetry', { qos: 1 }).then((g) => g[0]!.qos, (e: { packet?: { granted?: number[] } }) => e.packet?.granted?.[0]);
    expect(inside).toBe(128);
    const wide = await c.subscribeAsync('v1/#', { qos: 1 });
    expect(wide[0]!.qos).toBe(1);
    const smoke = clients[p.credentials.findIndex((x) => x.type === 'smoke-detector')]!;
    const smokeId = p.credentials.find((x) => x.type === 'smoke-detector')!.id;
    const manhole = p.credentials.find((x) => x.type === 'manhole-cover')!;
    await smoke.publishAsync(`v1/smoke-detector/${smokeId}/telemetry`, JSON.stringify({ props: { alarm: true } }), { qos: 1 });
    await clients[p.credentials.indexOf(manhole)]!.publishAsync(`v1/manhole-cover/${manhole.id}/telemetry`, JSON.stringify({ props: { open: false } }), { qos: 1 });
    await eventually(() => got.includes(`v1/manhole-cover/${manhole.id}/telemetry`), 3000, 'the allowed topic');
    expect(got.filter((t) => t.startsWith('v1/smoke-detector/'))).toEqual([]);
    await c.endAsync();
  });

  it('a revoked device secret closes the live connection and is refused from then on; a rotated one works', async () => {
    const cred = p.credentials.find((c) => c.id === 'b2-manhole-cover-1')!;
    const live = clients[p.credentials.indexOf(cred)]!;
    const closed = new Promise<void>((resolve) => live.once('close', () => resolve()));
    const r = await as('admin')('POST', `/api/v1/devices/${cred.id}/revoke`);
    expect(r.body).toMatchObject({ revoked: true, connectionsClosed: 1 });
    await closed;
    const err = await connectDevice(p, cred).then(() => undefined, (e: { code?: number }) => e);
    expect(err?.code).toBe(4);
    const rotated = (await as('admin')('POST', `/api/v1/devices/${cred.id}/secret`)).body;
    const again = await connectDevice(p, { ...cred, secret: rotated.secret });
    await again.endAsync();
  });

  it('a revoked user token is refused at once; the audit trail has every change and cannot be rewritten', async () => {
    expect((await as('res-2')('GET', '/api/v1/tickets')).status).toBe(200);
    const stream = await fetch(`http://127.0.0.1:${p.ports.http}/api/v1/events`, { headers: { authorization: `Bearer ${tokens['res-2']}` } });
    const ended = (async () => {
      const reader = stream.body!.getReader();
      while (!(await reader.read()).done);
      return true;
    })();
    expect((await as('admin')('POST', '/api/v1/users/res-2/revoke')).body).toMatchObject({ revoked: true, streamsEnded: 1 });
    expect(await ended).toBe(true); // its live event stream ended at once
    expect((await as('res-2')('GET', '/api/v1/tickets')).status).toBe(401);
    const audit = (await as('admin')('GET', '/api/v1/audit')).body.items as { action: string; targetId: string; actorId: string; after: unknown }[];
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['user.revoke', 'device.revoke', 'device.rotate_secret', 'service_account.create']));
    expect(audit.find((a) => a.action === 'user.revoke')).toMatchObject({ targetId: 'res-2', actorId: 'admin', before: { revoked: false }, after: { revoked: true } });
    // An override set twice: the second entry has the first's numbers as its before.
    for (const trigger of [60, 65]) expect((await as('admin')('PUT', '/api/v1/rule-overrides', { ruleId: 'smoke-heat', orgUnitId: 'g1', params: { trigger } })).status).toBe(200);
    const sets = ((await as('admin')('GET', '/api/v1/audit?targetKind=rule_override')).body.items as { before: unknown; after: unknown }[]);
    expect(sets[0]).toMatchObject({ before: { params: { trigger: 60 } }, after: { params: { trigger: 65 } } });
    expect(sets[1]).toMatchObject({ before: null, after: { params: { trigger: 60 } } });
    expect(JSON.stringify(audit)).not.toMatch(/secret"?\s*:\s*"[A-Za-z0-9_-]{20,}/);
    expect((await as('pm-1')('GET', '/api/v1/audit')).status).toBe(403);
    // A change that did not happen leaves no entry: a device that exists already, a user that does not.
    const count = async () => (await as('admin')('GET', '/api/v1/audit')).body.total as number;
    const before = await count();
    expect((await as('admin')('POST', '/api/v1/devices', { type: 'smoke-detector', buildingId: 'b1', id: 'b1-smoke-detector-1' })).status).toBe(409);
    expect((await as('admin')('POST', '/api/v1/users/nobody/revoke')).status).toBe(404);
    expect(await count()).toBe(before);
    expect((await as('admin')('POST', '/api/v1/users', { id: 'admin', name: 'x', role: 'resident' })).status).toBe(400);
    await expect(p.db.query(`UPDATE audit_log SET action = 'nothing'`)).rejects.toThrow(/append-only/);
    await expect(p.db.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
  });

  it('at most SSE_MAX_STREAMS_PER_USER live streams per user', async () => {
    const ctrls: AbortController[] = [];
    const open = async () => {
      const ctrl = new AbortController();
      ctrls.push(ctrl);
      return (await fetch(`http://127.0.0.1:${p.ports.http}/api/v1/events`, { headers: { authorization: `Bearer ${tokens['res-1']}` }, signal: ctrl.signal })).status;
    };
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await open());
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    for (const c of ctrls) c.abort();
  });

  it('200 bad tokens from one address get 429 after the limit, while the right token from another address still works', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) statuses.push(await from('127.0.0.3', `wrong-${i}`));
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses[30]).toBe(429);
    // (A block lasts 1 s, then 2, 4, …: on a slow machine a few more 401s come between blocks.)
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(100);
    // The right token still gets in, from another address and from the guessing one alike (a
    // guesser must not lock out the people who share its address).
    expect(await from('127.0.0.2', tokens['gw-1']!)).toBe(200);
    expect(await from('127.0.0.3', tokens['gw-1']!)).toBe(200);
    expect(await from('127.0.0.3', 'still-wrong')).toBe(429);
    const health = (await p.api('GET', '/api/v1/health')).body;
    expect(health.limits.authBlocks).toBeGreaterThan(0);
  });

  it('bad MQTT secrets for one account get CONNACK 5 after the limit', async () => {
    const device = p.credentials.find((c) => c.id === 'b1-manhole-cover-1')!;
    const codes: (number | undefined)[] = [];
    for (let i = 0; i < 25; i++) codes.push(await connectDevice(p, { ...device, secret: `wrong-${i}` }).then(() => 0, (e: { code?: number }) => e.code));
    expect(codes.slice(0, 20).every((c) => c === 4)).toBe(true);
    expect(codes.slice(21)).toEqual([5, 5, 5, 5]);
  });
});
