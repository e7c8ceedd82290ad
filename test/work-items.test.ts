import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getUser, type User } from '../core/store/users.ts';
import type { DomainError } from '../core/errors.ts';
import { HTTP_STATUS } from '../api/errors.ts';
import type { WorkItemEvent } from '../work-items/events.ts';
import { updateItem } from '../work-items/store.ts';
import { ACTIONS, permitted, ROLES, STATUSES, type Kind } from '../work-items/transitions.ts';
import { eventually, TINY_IMAGES, type TestPlatform } from './helpers/platform.ts';
import { startWorkItemsHarness, type WorkItemsHarness } from './helpers/work-items.ts';

const SITE = path.join(import.meta.dirname, 'fixtures', 'workitems-site.json');
const S = 1000;
let h: WorkItemsHarness;
let p: TestPlatform;
let clock: WorkItemsHarness['clock'];
let events: WorkItemEvent[];
let tokens: Record<string, string>;

beforeAll(async () => {
  h = await startWorkItemsHarness(SITE);
  ({ p, clock, events, tokens } = h);
});
afterAll(() => h?.dispose());

const as = (userId: string) => h.as(userId);
const act = (userId: string, id: string, action: string, extra: Record<string, unknown> = {}) => h.act(userId, id, action, extra);
/** Publishes telemetry as a device of the test site and waits until the rules and work items have acted on it. */
const send = (deviceId: string, props: Record<string, unknown>) => h.send(deviceId, props);
const settle = () => h.settle();
async function openItemOf(deviceId: string, kind: 'work-orders' | 'tickets' = 'work-orders') {
  return eventually(async () => (await as('admin').get(`/api/v1/${kind}?deviceId=${deviceId}`)).body.items.find((i: { status: string }) => !['closed', 'rejected'].includes(i.status)), 3000, `open item of ${deviceId}`);
}


describe('from alarms to work orders', () => {
  it('a detector alarm opens one critical work order for the on-duty grid worker, fire brigade whistled; repeats count on it', async () => {
    await send('ba1-smoke-detector-1', { alarm: true });
    const wo = await openItemOf('ba1-smoke-detector-1');
    expect(wo).toMatchObject({ kind: 'work_order', status: 'collected', severity: 'critical', gridId: 'g-a', assigneeId: 'gw-a', ruleId: 'smoke-device-alarm', escalationLevel: 'grid' });
    const full = (await as('gw-a').get(`/api/v1/work-orders/${wo.id}`)).body;
    expect(full.whistles.map((w: { department: string }) => w.department)).toEqual(['fire_brigade']);
    expect(full.evidence.rule.id).toBe('smoke-device-alarm');
    expect(full.timeline.map((t: { action: string }) => t.action)).toEqual(['collect', 'whistle']);
    expect(full.allowedActions).toEqual(expect.arrayContaining(['accept', 'reject', 'escalate', 'whistle']));
    // The alarm clears and comes back while the work order is open: counted, not a new item.
    await send('ba1-smoke-detector-1', { alarm: false });
    clock.advance(61 * S);
    await settle();
    await send('ba1-smoke-detector-1', { alarm: true });
    const again = await openItemOf('ba1-smoke-detector-1');
    expect(again.id).toBe(wo.id);
    expect(again.count).toBe(2);
    // Access: the other grid's worker does not see it; the whistled department does, the police do not.
    expect((await as('gw-b').get(`/api/v1/work-orders/${wo.id}`)).status).toBe(404);
    expect((await act('gw-b', wo.id, 'accept')).status).toBe(404);
    expect((await as('fire-1').get('/api/v1/work-orders')).body.items.map((i: { id: string }) => i.id)).toContain(wo.id);
    expect((await as('police-1').get('/api/v1/work-orders')).body.items.map((i: { id: string }) => i.id)).not.toContain(wo.id);
    expect((await as('res-1').get('/api/v1/work-orders')).body.total).toBe(0);
  });

  it('SLA: reminders until accepted, then escalation grid → community → street at each missed deadline', async () => {
    await send('ba1-manhole-cover-1', { gasPpm: 1500 });
    const wo = await openItemOf('ba1-manhole-cover-1');
    const mine = () => events.filter((e) => e.item.id === wo.id).map((e) => e.event);
    clock.advance(150 * S); // half the 5-minute accept window: 督办
    await settle();
    expect(mine()).toContain('reminder');
    expect(mine()).not.toContain('escalated');
    clock.advance(150 * S);
    await settle();
    expect((await as('admin').get(`/api/v1/work-orders/${wo.id}`)).body.escalationLevel).toBe('community');
    clock.advance(300 * S);
    await settle();
    const top = (await as('admin').get(`/api/v1/work-orders/${wo.id}`)).body;
    expect(top.escalationLevel).toBe('street');
    expect(top.timeline.filter((t: { action: string }) => t.action === 'escalate').map((t: { data: { level: string }; actorRole: string }) => [t.data.level, t.actorRole])).toEqual([['community', 'platform'], ['street', 'platform']]);
    expect(mine().filter((e) => e === 'escalated')).toHaveLength(2);
    // Accepted at last: no more reminders.
    expect((await act('gw-a', wo.id, 'accept')).status).toBe(200);
    const before = mine().length;
    clock.advance(200 * S);
    await settle();
    expect(mine().slice(before)).not.toContain('reminder');
  });

  it('two whistled departments: the item closes only after both finish; a late report-in escalates', async () => {
    await send('ba1-smoke-detector-2', { temperatureC: 80 });
    const wo = await openItemOf('ba1-smoke-detector-2');
    expect((await act('gw-a', wo.id, 'whistle', { departments: ['police'] })).status).toBe(200);
    for (const [who, action, extra] of [['gw-a', 'accept', {}], ['gw-a', 'dispatch', { assigneeId: 'gw-a' }], ['gw-a', 'start', {}]] as const) expect((await act(who, wo.id, action, extra)).status).toBe(200);
    expect((await act('fire-1', wo.id, 'report_in')).status).toBe(200);
    // A department cannot finish before it has reported in; the item cannot be resolved while one is still working.
    expect((await act('police-1', wo.id, 'resolve')).status).toBe(409);
    expect((await act('fire-1', wo.id, 'resolve', { note: 'fire out' })).status).toBe(200);
    expect((await as('admin').get(`/api/v1/work-orders/${wo.id}`)).body.status).toBe('in_progress');
    const refused = await act('gw-a', wo.id, 'resolve');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ departments: ['police'] });
    expect(refused.body.message).toContain('公安派出所');
    // The police report in late: recorded and escalated.
    clock.advance(1801 * S);
    await settle();
    const late = (await as('admin').get(`/api/v1/work-orders/${wo.id}`)).body;
    expect(late.whistles.find((w: { department: string }) => w.department === 'police')).toMatchObject({ late: true, reportedAt: null });
    expect(late.timeline.map((t: { action: string }) => t.action)).toContain('report_in_late');
    expect(late.escalationLevel).toBe('community');
    expect((await act('police-1', wo.id, 'report_in')).status).toBe(200);
    expect((await act('police-1', wo.id, 'resolve', { note: 'area secured' })).status).toBe(200);
    expect((await as('admin').get(`/api/v1/work-orders/${wo.id}`)).body.status).toBe('resolved');
    expect((await act('gw-a', wo.id, 'verify')).status).toBe(200);
    expect((await as('admin').get(`/api/v1/work-orders/${wo.id}`)).body.status).toBe('closed');
  });
});

describe('the policy table', () => {
  it('which item an alarm opens, and how urgent, is overridable down the tree like a threshold', async () => {
    expect((await p.api('PUT', '/api/v1/rule-overrides', { ruleId: 'manhole-water', orgUnitId: 'g-a', params: { item: 'ticket', severity: 'critical' } })).status).toBe(200);
    expect((await p.api('PUT', '/api/v1/rule-overrides', { ruleId: 'smoke-tamper', orgUnitId: 'ba1', params: { item: 'none' } })).status).toBe(200);
    expect((await p.api('PUT', '/api/v1/rule-overrides', { ruleId: 'smoke-tamper', orgUnitId: 'ba1', params: { item: 'email' } })).status).toBe(400);
    await send('ba1-manhole-cover-1', { waterLevelCm: 20 });
    const tk = await openItemOf('ba1-manhole-cover-1', 'tickets');
    expect(tk).toMatchObject({ kind: 'ticket', severity: 'critical', ruleId: 'manhole-water' });
    await send('ba1-smoke-detector-3', { tamper: true });
    expect((await p.api('GET', '/api/v1/alarms?deviceId=ba1-smoke-detector-3&ruleId=smoke-tamper')).body.items[0]).toMatchObject({ state: 'active', item: null });
    expect((await as('admin').get('/api/v1/tickets?deviceId=ba1-smoke-detector-3')).body.items.filter((i: { ruleId: string }) => i.ruleId === 'smoke-tamper')).toEqual([]);
  });
});

describe('storms and one item per fire', () => {
  it('smoke, heat and the alarm of one detector are one work order; three detectors of a building fold into the incident\'s one', async () => {
    await send('bb1-smoke-detector-1', { temperatureC: 70 });
    await send('bb1-smoke-detector-1', { alarm: true });
    const first = await openItemOf('bb1-smoke-detector-1');
    expect(first.count).toBe(2);
    await send('bb1-smoke-detector-2', { alarm: true });
    await settle();
    const open = (await as('gw-b').get('/api/v1/work-orders')).body.items.filter((i: { status: string }) => i.status !== 'closed');
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ id: first.id, incidentId: expect.stringMatching(/^inc-/), count: 3 });
    const merged = (await as('gw-b').get('/api/v1/work-orders?deviceId=bb1-smoke-detector-2')).body.items[0];
    expect(merged.status).toBe('closed');
    expect((await as('gw-b').get(`/api/v1/work-orders/${merged.id}`)).body.timeline.at(-1)).toMatchObject({ action: 'merge', actorRole: 'platform', data: { into: first.id } });
  });
});

describe('无感销 and relapse', () => {
  it('a full bin ticket closes itself when emptied, with the readings as proof; a relapse within 24 h reopens it', async () => {
    await send('ba1-overflow-bin-1', { fillPct: 90 });
    const tk = await openItemOf('ba1-overflow-bin-1', 'tickets');
    expect(tk).toMatchObject({ kind: 'ticket', severity: 'minor', autoClose: true });
    await send('ba1-overflow-bin-1', { fillPct: 10 });
    const closed = await eventually(async () => {
      const t = (await as('admin').get(`/api/v1/tickets/${tk.id}`)).body;
      return t.status === 'closed' && t;
    }, 3000, 'auto-closed');
    const last = closed.timeline.at(-1);
    expect(last).toMatchObject({ action: 'auto_close', actorRole: 'platform', toStatus: 'closed' });
    expect(last.note).toContain('无感销'); // Chinese first (issue 15): closed by the platform
    expect(last.data.proof).toEqual([expect.objectContaining({ value: 10 })]);
    clock.advance(3600 * S);
    await send('ba1-overflow-bin-1', { fillPct: 95 });
    const reopened = await openItemOf('ba1-overflow-bin-1', 'tickets');
    expect(reopened.id).toBe(tk.id);
    expect(reopened).toMatchObject({ status: 'accepted', count: 2 });
  });
});

describe('一键报修 through the six steps', () => {
  it('file → accept → dispatch → start → resolve → verify → rate → return visit; a poor rating reopens', async () => {
    const leak = (await p.upload(TINY_IMAGES.jpeg, 'leak.jpg', tokens['res-1'])).body.id as string;
    const fixed = (await p.upload(TINY_IMAGES.png, 'fixed.png', tokens['ps-1'], 'image/png')).body.id as string;
    const filed = await as('res-1').post('/api/v1/tickets', { category: 'plumbing', description: '厨房水管漏水', buildingId: 'ba1', unit: '2', room: '301', photos: [leak] });
    expect(filed.status).toBe(201);
    const id = filed.body.id as string;
    expect(filed.body).toMatchObject({ status: 'collected', communityId: 'c-r', reporterId: 'res-1', location: { unit: '2', room: '301' } });
    expect((await as('res-2').get(`/api/v1/tickets/${id}`)).status).toBe(404);
    expect((await act('res-1', id, 'accept')).status).toBe(409);
    for (const [who, action, extra] of [['pm-1', 'accept', {}], ['pm-1', 'dispatch', { assigneeId: 'ps-1' }], ['ps-1', 'start', {}], ['ps-1', 'resolve', { note: '换了阀门', photos: [fixed] }], ['pm-1', 'verify', {}]] as const) {
      const r = await act(who, id, action, extra);
      expect(r.status, `${who} ${action}: ${JSON.stringify(r.body)}`).toBe(200);
    }
    expect((await act('ps-2', id, 'start')).status).toBe(403);
    expect((await act('res-1', id, 'rate', { rating: { overall: 5, speed: 4, service: 5, comment: '师傅很专业' } })).status).toBe(200);
    expect((await act('res-1', id, 'rate', { rating: { overall: 1, speed: 1, service: 1 } })).status).toBe(409);
    expect((await act('pm-1', id, 'revisit', { revisit: { result: 'satisfied' } })).status).toBe(200);
    const done = (await as('res-1').get(`/api/v1/tickets/${id}`)).body;
    expect(done).toMatchObject({ status: 'closed', rating: { overall: 5 }, revisit: { result: 'satisfied', by: 'pm-1' } });
    expect(done.timeline.map((t: { action: string }) => t.action)).toEqual(['collect', 'accept', 'dispatch', 'start', 'resolve', 'verify', 'rate', 'revisit']);
    expect(done.timeline[4]).toMatchObject({ actorId: 'ps-1', actorRole: 'property_staff', fromStatus: 'in_progress', toStatus: 'resolved', photos: [fixed] });
    expect(done.photos).toEqual([leak, fixed]);

    const second = (await as('res-2').post('/api/v1/tickets', { category: 'electrical', description: '楼道灯不亮', buildingId: 'ba2' })).body.id as string;
    for (const [who, action, extra] of [['pm-1', 'accept', {}], ['pm-1', 'dispatch', { assigneeId: 'ps-2' }], ['ps-2', 'start', {}], ['ps-2', 'resolve', {}]] as const) expect((await act(who, second, action, extra)).status).toBe(200);
    expect((await act('res-2', second, 'rate', { rating: { overall: 2, speed: 1, service: 3 } })).status).toBe(200);
    expect((await as('pm-1').get(`/api/v1/tickets/${second}`)).body).toMatchObject({ status: 'accepted', assigneeId: null });

    const third = (await as('res-2').post('/api/v1/tickets', { category: 'door', description: '门禁失灵', buildingId: 'ba2' })).body.id as string;
    for (const [who, action, extra] of [['pm-1', 'accept', {}], ['pm-1', 'dispatch', { assigneeId: 'ps-1' }], ['ps-1', 'start', {}], ['ps-1', 'resolve', {}], ['pm-1', 'verify', {}]] as const) expect((await act(who, third, action, extra)).status).toBe(200);
    expect((await act('pm-1', third, 'revisit', { revisit: { result: 'unsatisfied', note: '门禁还是时好时坏' } })).status).toBe(200);
    const back = (await as('pm-1').get(`/api/v1/tickets/${third}`)).body;
    expect(back).toMatchObject({ status: 'accepted', revisit: { result: 'unsatisfied' } });
    expect(back.timeline.at(-1)).toMatchObject({ action: 'reopen', actorRole: 'platform', fromStatus: 'closed', toStatus: 'accepted' });
  });

  it('dispatch modes: round-robin, grab (two at once: one wins), transfer and return', async () => {
    const file = async () => (await as('res-1').post('/api/v1/tickets', { category: 'elevator', description: '电梯异响', buildingId: 'ba1' })).body.id as string;
    const a = await file();
    const b = await file();
    for (const id of [a, b]) expect((await act('pm-1', id, 'accept')).status).toBe(200);
    const ra = await act('pm-1', a, 'dispatch');
    const rb = await act('pm-1', b, 'dispatch');
    expect(new Set([ra.body.assigneeId, rb.body.assigneeId])).toEqual(new Set(['ps-1', 'ps-2']));
    expect((await act('pm-1', a, 'transfer', { assigneeId: ra.body.assigneeId === 'ps-1' ? 'ps-2' : 'ps-1' })).body.assigneeId).toBe(rb.body.assigneeId);
    expect((await act(rb.body.assigneeId, a, 'return', { note: '不是我的专业' })).body).toMatchObject({ status: 'accepted', assigneeId: null });

    const c = await file();
    expect((await act('pm-1', c, 'accept')).status).toBe(200);
    const [g1, g2] = await Promise.all([act('ps-1', c, 'grab'), act('ps-2', c, 'grab')]);
    expect([g1.status, g2.status].sort()).toEqual([200, 409]);
    const winner = g1.status === 200 ? 'ps-1' : 'ps-2';
    expect((await as('admin').get(`/api/v1/tickets/${c}`)).body).toMatchObject({ status: 'dispatched', assigneeId: winner });
  });
});

describe('the transition table', () => {
  it('refuses every action the table does not allow, for every role, with the allowed ones listed', async () => {
    const users: Record<string, User> = {};
    for (const id of ['admin', 'sd-r', 'cd-r', 'gw-a', 'pm-1', 'ps-1', 'fire-1', 'res-1']) users[id] = id === 'admin' ? { id: 'admin', name: 'admin', role: 'admin', gridIds: [], communityIds: [], department: null } : (await getUser(p.db, id))!;
    const ticket = (await as('res-1').post('/api/v1/tickets', { category: 'door', description: '单元门坏了', buildingId: 'ba1' })).body;
    await send('ba1-manhole-cover-1', { open: true });
    const wo = await openItemOf('ba1-manhole-cover-1');
    await act('gw-a', wo.id, 'whistle', { departments: ['fire_brigade'] });
    let refusals = 0;
    for (const [kind, item] of [['ticket', ticket], ['work_order', (await as('admin').get(`/api/v1/work-orders/${wo.id}`)).body]] as [Kind, { id: string }][]) {
      for (const status of STATUSES) {
        const fresh = (await as('admin').get(`/api/v1/${kind === 'ticket' ? 'tickets' : 'work-orders'}/${item.id}`)).body;
        await updateItem(p.db, item.id, fresh.version, { status, assigneeId: kind === 'ticket' ? 'ps-1' : 'gw-a' });
        for (const user of Object.values(users)) {
          for (const action of ACTIONS) {
            if (permitted(action, kind, status, user.role)) continue;
            const r = await p.workItems.act(item.id, action, user, {}).then(() => undefined, (e: DomainError) => ({ status: HTTP_STATUS[e.code], extra: e.extra as { allowed?: string[] } }));
            expect(r, `${user.role} ${action} on a ${status} ${kind}`).toBeDefined();
            expect([403, 404, 409]).toContain(r!.status);
            if (r!.status === 409) expect(r!.extra.allowed).not.toContain(action);
            refusals++;
          }
        }
      }
    }
    expect(refusals).toBeGreaterThan(1000);
  });

  it('the timeline is append-only in the store itself', async () => {
    const some = (await p.db.query<{ item_id: string }>('SELECT item_id FROM work_item_events LIMIT 1')).rows[0]!;
    await expect(p.db.query(`UPDATE work_item_events SET note = 'rewritten' WHERE item_id = $1`, [some.item_id])).rejects.toThrow(/append-only/);
    await expect(p.db.query(`DELETE FROM work_item_events WHERE item_id = $1`, [some.item_id])).rejects.toThrow(/append-only/);
  });
});

describe('grid profile and live events', () => {
  it('网格画像 sums up the grid: items, times, SLA breaches, auto-closes, repeat devices, ratings, whistles', async () => {
    const r = await as('gw-a').get('/api/v1/grids/g-a/profile');
    expect(r.status).toBe(200);
    const prof = r.body;
    expect(prof.items).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'work_order', severity: 'critical' }), expect.objectContaining({ kind: 'ticket', severity: 'minor' })]));
    expect(prof.meanAcceptS).toBeGreaterThan(0);
    expect(prof.slaBreachRate).toBeGreaterThan(0);
    expect(prof.autoClosed).toBeGreaterThanOrEqual(1);
    expect(prof.repeatDevices).toEqual(expect.arrayContaining([{ deviceId: 'ba1-smoke-detector-1', ruleId: 'smoke-device-alarm', alarms: 2 }]));
    expect(prof.rating.count).toBeGreaterThanOrEqual(2);
    expect(prof.revisits).toMatchObject({ satisfied: 1 });
    expect(prof.whistles.find((w: { department: string }) => w.department === 'police')).toMatchObject({ late: 1 });
    expect((await as('pm-1').get('/api/v1/communities/c-r/profile')).status).toBe(200);
    expect((await as('pm-1').get('/api/v1/staff')).body.items.map((x: { id: string }) => x.id)).toEqual(['ps-1', 'ps-2']);
    expect((await as('gw-b').get('/api/v1/grids/g-a/profile')).status).toBe(403);
    expect((await as('res-1').get('/api/v1/grids/g-a/profile')).status).toBe(403);
    expect((await as('admin').get('/api/v1/grids/nowhere/profile')).status).toBe(404);
  });

  it("streams work-item events over SSE within the caller's reach, and publishes them on platform/workitems/…", async () => {
    const account = (await p.api('POST', '/api/v1/service-accounts', { name: 'notifier', subscribe: ['platform/workitems/#'] })).body;
    const { connect } = await import('./helpers/platform.ts');
    const watcher = await connect(p.mqttUrl, account.username, account.secret);
    const onMqtt: string[] = [];
    watcher.on('message', (topic) => onMqtt.push(topic));
    await watcher.subscribeAsync('platform/workitems/#', { qos: 1 });
    const ctrl = new AbortController();
    const res = await fetch(`http://127.0.0.1:${p.ports.http}/api/v1/events`, { headers: { authorization: `Bearer ${tokens['res-2']}` }, signal: ctrl.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const filed = (await as('res-2').post('/api/v1/tickets', { category: 'noise', description: '楼上装修噪音', buildingId: 'bb1' })).body;
    await as('res-1').post('/api/v1/tickets', { category: 'noise', description: '别人的报修', buildingId: 'bb1' });
    while (!text.includes(filed.id)) text += new TextDecoder().decode((await reader.read()).value);
    ctrl.abort();
    expect(text).toContain('event: created');
    await eventually(() => onMqtt.includes(`platform/workitems/created/ticket/g-b/${filed.id}`), 3000, 'MQTT work-item event');
    // The other resident's ticket did not reach this stream.
    expect(text.match(/"reporterId":"res-1"/)).toBeNull();
    await watcher.endAsync();
  });
});
