import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkItemEvent } from '../work-items/events.ts';
import { ADMIN_TOKEN, eventually, TINY_IMAGES, type TestPlatform } from './helpers/platform.ts';
import { startWorkItemsHarness, type WorkItemsHarness } from './helpers/work-items.ts';

/**
 * Issue 15: the loop as the people who run a street use it — Chinese first, 事件上报 with
 * uploaded photos, community and street dispatchers, ratings and the profile's rates.
 * Site: 和平街道 with 梨园社区 (grids g-l1, g-l2) and 桃花社区 (g-t1); test/fixtures/people-site.json.
 */
const SITE = path.join(import.meta.dirname, 'fixtures', 'people-site.json');
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

const get = (who: string, url: string, headers: Record<string, string> = {}) => h.as(who).get(url, headers);
const post = (who: string, url: string, body: unknown, headers: Record<string, string> = {}) => h.as(who).post(url, body, headers);
const act: WorkItemsHarness['act'] = (...args) => h.act(...args);
const send: WorkItemsHarness['send'] = (...args) => h.send(...args);
const settle = () => h.settle();
const item = async (id: string) => (await get('admin', `/api/v1/work-orders/${id}`)).body;
const upload = async (who: string, kind: keyof typeof TINY_IMAGES = 'jpeg') => {
  const r = await p.upload(TINY_IMAGES[kind], `photo.${kind}`, tokens[who], `image/${kind}`);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
};
const CJK = /[\u4e00-\u9fff]/;
const photoStatus = async (who: string, id: string) => {
  const res = await fetch(`http://127.0.0.1:${p.ports.http}/api/v1/photos/${id}`, { headers: who === 'admin' ? { authorization: `Bearer ${ADMIN_TOKEN}` } : { authorization: `Bearer ${tokens[who]}` } });
  await res.arrayBuffer();
  return res.status;
};

const openItemOf = async (deviceId: string) => (await get('admin', `/api/v1/work-orders?deviceId=${deviceId}`)).body.items.find((i: { status: string }) => !['closed', 'rejected'].includes(i.status));

describe('Chinese first, and the ladder reaches people (dispatchers)', () => {
  it('the fire scenario reads in Chinese and names the building; an item escalated past its deadline goes to the community, then the street dispatcher', async () => {
    await send('b-l1-smoke-detector-1', { alarm: true });
    const wo = await openItemOf('b-l1-smoke-detector-1');
    expect(wo.title).toBe('梨园社区1号楼 烟感探测器-1：探测器火警');
    expect(wo).toMatchObject({ assigneeId: 'gw-l1', escalationLevel: 'grid' });
    const mine = () => events.filter((e) => e.item.id === wo.id);

    clock.advance(150 * S); // half the 5-minute accept window: 督办
    await settle();
    const reminder = mine().find((e) => e.event === 'reminder')!;
    expect(reminder.data?.note).toMatch(/^督办：第 1 次提醒，请于 \d\d:\d\d 前受理$/);

    clock.advance(150 * S); // the accept deadline: up to the community, to its dispatcher on duty
    await settle();
    expect(await item(wo.id)).toMatchObject({ escalationLevel: 'community', assigneeId: 'cd-l' });
    const cdList = (await get('cd-l', '/api/v1/work-orders?assigneeId=me')).body;
    expect(cdList.items.map((i: { id: string }) => i.id)).toEqual([wo.id]);
    expect((await get('cd-t', `/api/v1/work-orders/${wo.id}`)).status).toBe(404); // another community's dispatcher

    clock.advance(300 * S); // missed again: the street's command centre
    await settle();
    expect(await item(wo.id)).toMatchObject({ escalationLevel: 'street', assigneeId: 'sd' });
    expect((await get('sd', '/api/v1/work-orders?assigneeId=me&level=street')).body.items.map((i: { id: string }) => i.id)).toEqual([wo.id]);

    const timeline = (await item(wo.id)).timeline as { action: string; note: string | null; data: Record<string, unknown> }[];
    expect(timeline.filter((t) => t.action === 'escalate').map((t) => [t.note, t.data.assigneeId])).toEqual([
      ['超时未受理，升级至社区', 'cd-l'],
      ['超时未受理，升级至街道', 'sd'],
    ]);
    expect(timeline[0]!.note).toContain('梨园社区1号楼');
    for (const t of timeline) if (t.note) expect(t.note, t.action).toMatch(CJK);
    expect(timeline.find((t) => t.action === 'whistle')!.note).toBe('按规则吹哨：消防救援');

    // A refused action answers in the caller's language: Chinese by default, English on request.
    const zh = await act('gw-l1', wo.id, 'verify');
    expect(zh).toMatchObject({ status: 409, body: { error: 'conflict', code: 'WI_NOT_ALLOWED' } });
    expect(zh.body.message).toBe('工单处于“信息收集”状态，网格员不能执行“核查结单”');
    const en = await act('gw-l1', wo.id, 'verify', {}, { 'accept-language': 'en-GB,en;q=0.9' });
    expect(en.body).toMatchObject({ code: 'WI_NOT_ALLOWED', message: 'verify is not allowed on a work_order in status collected for grid_worker' });
    const badInput = await act('gw-l1', wo.id, 'dispatch', { assigneeId: 42 }, { 'accept-language': 'zh-CN' });
    expect(badInput).toMatchObject({ status: 400, body: { field: 'assigneeId' } });
    expect(badInput.body.message).toMatch(/无效输入/);

    // The street dispatcher routes it to a grid worker below them (another grid of the community),
    // records the fire brigade's report-in and part (代报到), and closes it.
    expect((await act('sd', wo.id, 'accept')).status).toBe(200);
    expect((await act('cd-l', wo.id, 'transfer', { assigneeId: 'gw-t1' })).status).toBe(409); // not dispatched yet
    expect((await act('sd', wo.id, 'dispatch', { assigneeId: 'gw-l2' })).status).toBe(200);
    expect((await get('gw-l2', `/api/v1/work-orders/${wo.id}`)).status).toBe(200); // assigned: theirs to see
    expect((await act('cd-l', wo.id, 'transfer', { assigneeId: 'gw-t1' })).body).toMatchObject({ code: 'WI_BAD_INPUT', field: 'assigneeId' }); // 桃花 is not below 梨园
    expect((await act('gw-l2', wo.id, 'start')).status).toBe(200);
    expect((await act('sd', wo.id, 'resolve')).body).toMatchObject({ code: 'WI_BAD_INPUT', field: 'department' });
    expect((await act('sd', wo.id, 'report_in', { department: 'fire_brigade' })).status).toBe(200);
    const part = await act('sd', wo.id, 'resolve', { department: 'fire_brigade', note: '明火已扑灭' });
    expect(part.status, JSON.stringify(part.body)).toBe(200);
    // The last department's part, with the grid's work under way, resolves the item (结果反馈).
    expect((await item(wo.id)).status).toBe('resolved');
    expect((await act('sd', wo.id, 'verify')).status).toBe(200);
    const closed = await item(wo.id);
    expect(closed.status).toBe('closed');
    expect(closed.timeline.find((t: { action: string }) => t.action === 'report_in')).toMatchObject({ actorId: 'sd', actorRole: 'street_dispatcher', data: { department: 'fire_brigade', onBehalf: true, recordedBy: 'sd' } });
    expect((await get('cd-l', '/api/v1/communities/c-l/profile')).body.closedAt).toMatchObject({ street: 1 });
  });
});

describe('事件上报 with uploaded photos', () => {
  it('a grid worker\'s patrol finding with two photos goes through all six steps; photos are served only to who may see the item', async () => {
    const [a, b] = [await upload('gw-l1', 'jpeg'), await upload('gw-l1', 'webp')];
    const filed = await post('gw-l1', '/api/v1/work-orders', { category: 'fire_exit_blocked', description: '3单元楼道堆满杂物，消防通道堵塞', buildingId: 'b-l1', place: '3单元楼道', photos: [a, b] });
    expect(filed.status, JSON.stringify(filed.body)).toBe(201);
    const id = filed.body.id as string;
    expect(filed.body).toMatchObject({ kind: 'work_order', status: 'collected', source: 'patrol', severity: 'major', gridId: 'g-l1', assigneeId: 'gw-l1', reporterId: 'gw-l1', photos: [a, b] });
    expect(filed.body.title).toBe('梨园社区1号楼 3单元楼道 消防通道堵塞：3单元楼道堆满杂物，消防通道堵塞');

    const photo = await fetch(`http://127.0.0.1:${p.ports.http}/api/v1/photos/${a}`, { headers: { authorization: `Bearer ${tokens['gw-l1']}` } });
    expect(photo.status).toBe(200);
    expect(photo.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await photo.arrayBuffer()).equals(Buffer.from(TINY_IMAGES.jpeg))).toBe(true);
    for (const who of ['gw-t1', 'gw-l2', 'res-2', 'cd-t']) expect(await photoStatus(who, a), who).toBe(404);
    for (const who of ['cd-l', 'sd', 'admin']) expect(await photoStatus(who, b), who).toBe(200);

    // Another person's upload is not a way to attach (or reveal) their photo.
    const foreign = await upload('gw-l2');
    expect((await act('gw-l1', id, 'accept', { photos: [foreign] })).body).toMatchObject({ code: 'WI_BAD_INPUT', field: 'photos' });
    expect((await post('gw-t1', '/api/v1/work-orders', { category: 'other', description: '别人网格的事', buildingId: 'b-l1' })).status).toBe(403);

    const after = await upload('gw-l1', 'png');
    for (const [action, extra] of [['accept', {}], ['dispatch', { assigneeId: 'gw-l1' }], ['start', {}], ['resolve', { note: '杂物已清走', photos: [after] }], ['verify', {}]] as const) {
      const r = await act('gw-l1', id, action, extra);
      expect(r.status, `${action}: ${JSON.stringify(r.body)}`).toBe(200);
    }
    const done = await item(id);
    expect(done.status).toBe('closed');
    expect(done.timeline.map((t: { action: string }) => t.action)).toEqual(['collect', 'accept', 'dispatch', 'start', 'resolve', 'verify']);
    expect(done.timeline[0].photos).toEqual([a, b]);
    expect(done.photos).toEqual([a, b, after]);
    expect(await photoStatus('cd-l', after)).toBe(200); // held by the item's timeline
  });

  it('refuses an upload above 10 MB with 413 and a renamed text file with 400, keeping neither', async () => {
    const big = new Uint8Array(11 * 1024 * 1024);
    big.set(TINY_IMAGES.jpeg.subarray(0, 3)); // a JPEG's first bytes: only the size is wrong
    expect(await p.upload(big, 'big.jpg', tokens['gw-l1'])).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    const text = new TextEncoder().encode('not an image, whatever its name says');
    const renamed = await p.upload(text, 'evil.jpg', tokens['gw-l1'], 'image/jpeg');
    expect(renamed).toMatchObject({ status: 400, body: { error: 'bad_request', field: 'file' } });
    expect(renamed.body.message).toContain('JPEG');
    expect((await p.api('POST', '/api/v1/photos', { file: 'x' }, tokens['gw-l1'])).status).toBe(415);
    const { rows } = await p.db.query<{ n: number }>('SELECT count(*)::int AS n FROM photos WHERE bytes > 1000');
    expect(rows[0]!.n).toBe(0);
  });

  it('a resident reports a public-safety problem, follows it, and rates it 5★; nobody else rates it', async () => {
    const shot = await upload('res-1');
    const filed = await post('res-1', '/api/v1/work-orders', { category: 'flying_wire_charging', description: '2号楼前有人从窗口拉线给电动车充电', buildingId: 'b-l2', photos: [shot] });
    expect(filed.status, JSON.stringify(filed.body)).toBe(201);
    const id = filed.body.id as string;
    expect(filed.body).toMatchObject({ source: 'resident', reporterId: 'res-1', assigneeId: 'gw-l1' });
    expect(filed.body.title).toMatch(/^梨园社区2号楼 飞线充电：/);
    expect((await get('res-1', '/api/v1/work-orders')).body.items.map((i: { id: string }) => i.id)).toEqual([id]);
    expect((await get('res-2', `/api/v1/work-orders/${id}`)).status).toBe(404);
    expect((await act('res-1', id, 'rate', { rating: { overall: 5, speed: 5, service: 5 } })).status).toBe(409); // not resolved yet
    for (const [action, extra] of [['accept', {}], ['dispatch', { assigneeId: 'gw-l1' }], ['start', {}], ['resolve', {}], ['verify', {}]] as const) expect((await act('gw-l1', id, action, extra)).status, action).toBe(200);
    expect((await act('gw-l1', id, 'rate', { rating: { overall: 1, speed: 1, service: 1 } })).status).toBe(403); // only who raised it
    const rated = await act('res-1', id, 'rate', { rating: { overall: 5, speed: 5, service: 4, comment: '处理很快' } });
    expect(rated.status, JSON.stringify(rated.body)).toBe(200);
    expect(rated.body).toMatchObject({ status: 'closed', rating: { overall: 5 } });
    expect(await photoStatus('res-1', shot)).toBe(200);
  });

  it('a dispatcher merges a duplicate report into the first one', async () => {
    const first = (await post('res-1', '/api/v1/work-orders', { category: 'fallen_tree', description: '1号楼北侧大树倒了', buildingId: 'b-l1' })).body.id as string;
    const dup = (await post('gw-l1', '/api/v1/work-orders', { category: 'fallen_tree', description: '北侧树倒伏压住车棚', buildingId: 'b-l1' })).body.id as string;
    expect((await act('cd-t', dup, 'merge', { intoId: first })).status).toBe(404); // not their community
    expect((await act('cd-l', dup, 'merge', { intoId: 'WO-nope' })).body).toMatchObject({ code: 'WI_BAD_INPUT', field: 'intoId' });
    expect((await act('cd-l', dup, 'merge', { intoId: first })).status).toBe(200);
    expect(await item(dup)).toMatchObject({ status: 'closed' });
    const kept = await item(first);
    expect(kept).toMatchObject({ status: 'collected', count: 2 });
    expect(kept.timeline.at(-1)).toMatchObject({ action: 'merge', actorId: 'cd-l', data: { merged: dup } });
  });
});

describe('whistles follow a relapse', () => {
  it('a relapse within 24 h reopens the closed fire work order and calls the fire brigade in again', async () => {
    await send('b-l2-smoke-detector-1', { alarm: true });
    const wo = await openItemOf('b-l2-smoke-detector-1');
    expect((await act('gw-l1', wo.id, 'accept')).status).toBe(200);
    expect((await act('fire-1', wo.id, 'report_in')).status).toBe(200);
    expect((await act('fire-1', wo.id, 'resolve')).status).toBe(200);
    for (const [action, extra] of [['dispatch', { assigneeId: 'gw-l1' }], ['start', {}], ['resolve', {}], ['verify', {}]] as const) expect((await act('gw-l1', wo.id, action, extra)).status, action).toBe(200);
    await send('b-l2-smoke-detector-1', { alarm: false });
    clock.advance(61 * S);
    await send('b-l2-smoke-detector-1', { alarm: false });
    expect((await item(wo.id)).status).toBe('closed');
    await send('b-l2-smoke-detector-1', { alarm: true }); // it burns again
    const reopened = await item(wo.id);
    expect(reopened.status).toBe('accepted');
    expect(reopened.whistles).toEqual([expect.objectContaining({ department: 'fire_brigade', reportedAt: null, finishedAt: null, late: false })]);
    expect(reopened.timeline.at(-1)).toMatchObject({ action: 'whistle', actorRole: 'platform', data: { departments: ['fire_brigade'] } });
    // Its part to do again: the item cannot be closed past it.
    expect((await act('gw-l1', wo.id, 'dispatch', { assigneeId: 'gw-l1' })).status).toBe(200);
    expect((await act('gw-l1', wo.id, 'start')).status).toBe(200);
    expect((await act('gw-l1', wo.id, 'resolve')).body).toMatchObject({ code: 'WI_DEPARTMENTS_WORKING', departments: ['fire_brigade'] });
  });
});

describe('网格画像 rates', () => {
  it('完成率, 及时率, 好评率 and where items were closed match a hand count over a scripted set of items', async () => {
    type Plan = { who: string; severity: 'critical' | 'major' | 'minor'; end: 'closed' | 'open' | 'rejected'; late?: boolean; rating?: number };
    // In 桃花社区's one grid, where nothing else happens.
    const plan: Plan[] = [
      { who: 'gw-t1', severity: 'minor', end: 'closed' },
      { who: 'gw-t1', severity: 'critical', end: 'closed', late: true },
      { who: 'gw-t1', severity: 'minor', end: 'open' },
      { who: 'gw-t1', severity: 'minor', end: 'rejected' },
      { who: 'res-2', severity: 'minor', end: 'closed', rating: 5 },
      { who: 'res-2', severity: 'minor', end: 'closed', rating: 3 },
      { who: 'res-2', severity: 'minor', end: 'closed', rating: 4 },
    ];
    const walk = async (id: string, to: 'resolve' | 'verify') => {
      for (const [action, extra] of [['accept', {}], ['dispatch', { assigneeId: 'gw-t1' }], ['start', {}], ['resolve', {}], ['verify', {}]] as const) {
        if (to === 'resolve' && action === 'verify') break;
        const r = await act('gw-t1', id, action, extra);
        expect(r.status, `${action} ${JSON.stringify(r.body)}`).toBe(200);
      }
    };
    const ids: string[] = [];
    for (const [i, x] of plan.entries()) {
      const r = await post(x.who, '/api/v1/work-orders', { category: 'other', description: `第${i + 1}件`, buildingId: 'b-t1', severity: x.severity });
      expect(r.status).toBe(201);
      ids.push(r.body.id);
    }
    for (const [i, x] of plan.entries()) {
      const id = ids[i]!;
      if (x.end === 'rejected') expect((await act('gw-t1', id, 'reject', { note: '误报' })).status).toBe(200);
      if (x.end === 'closed' && !x.late) await walk(id, 'verify');
      if (x.rating) expect((await act('res-2', id, 'rate', { rating: { overall: x.rating, speed: 3, service: 3 } })).status).toBe(200);
    }
    // The late one: accepted and started, then its 1-hour resolve deadline passes (escalated to the community).
    const late = ids[plan.findIndex((x) => x.late)]!;
    for (const [action, extra] of [['accept', {}], ['dispatch', { assigneeId: 'gw-t1' }], ['start', {}]] as const) expect((await act('gw-t1', late, action, extra)).status).toBe(200);
    clock.advance(3601 * S);
    await settle();
    expect(await item(late)).toMatchObject({ escalationLevel: 'community' });
    expect((await act('gw-t1', late, 'resolve')).status).toBe(200);
    expect((await act('gw-t1', late, 'verify')).status).toBe(200);

    const closed = plan.filter((x) => x.end === 'closed');
    const rated = plan.filter((x) => x.rating);
    const prof = (await get('gw-t1', '/api/v1/grids/g-t1/profile')).body;
    // (The grid's one detector never spoke: its offline ticket is open there too, counted with the tickets.)
    const orders = prof.rates.byKind.work_order;
    expect(orders.completion).toEqual({ count: closed.length, of: plan.length, rate: closed.length / plan.length });
    expect(orders.timeliness).toEqual({ count: closed.filter((x) => !x.late).length, of: closed.length, rate: closed.filter((x) => !x.late).length / closed.length });
    expect(orders.goodRating).toEqual({ count: rated.filter((x) => x.rating! >= 4).length, of: rated.length, rate: rated.filter((x) => x.rating! >= 4).length / rated.length });
    expect(orders.satisfaction).toEqual({ count: 0, of: 0, rate: null });
    expect(prof.rates.byKind.ticket.completion).toEqual({ count: 0, of: 1, rate: 0 });
    expect(prof.rates.completion).toEqual({ count: closed.length, of: plan.length + 1, rate: closed.length / (plan.length + 1) });
    expect(prof.closedAt).toEqual({ grid: closed.filter((x) => !x.late).length, community: 1, street: 0 });
    expect(prof.deviceHealth).toEqual([{ gridId: 'g-t1', communityId: 'c-t', devices: 1, online: 0, onlineRate: 0, silent: 1, lowBattery: 0 }]);
    // The community's profile has each of its grids' device health, next to its items.
    // (Presence reaches the store a moment after the connection: asked until it has.)
    const community = await eventually(async () => {
      const body = (await get('cd-l', '/api/v1/communities/c-l/profile')).body;
      return body.deviceHealth[0]?.online === 2 ? body : undefined;
    }, 5000, 'presence of the two detectors that spoke');
    expect(community.deviceHealth.map((x: { gridId: string }) => x.gridId)).toEqual(['g-l1', 'g-l2']);
    expect(community.deviceHealth[0]).toMatchObject({ devices: 4, online: 2, onlineRate: 0.5 }); // the detectors of 1号楼 and 2号楼 that spoke
  });
});
