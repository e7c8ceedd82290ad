import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Every function node of flows/flows.json, as it ships, in Node-RED's own runtime
 * (node-red-node-test-helper): its outputs wired to helper nodes, its flow context and environment
 * set as the running flows would have them.
 */
const require = createRequire(import.meta.url);
const helper = require('node-red-node-test-helper');
const functionNode = require('@node-red/nodes/core/function/10-function.js');
helper.init(require.resolve('node-red'));

const FLOWS = JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'flows', 'flows.json'), 'utf8')) as { id: string; type: string; outputs?: number; func?: string }[];
const DINGTALK_SECRET = 'SECunit-test';
const ENV: Record<string, string> = {
  WECOM_WEBHOOK_URL: 'http://wecom.test/cgi-bin/webhook/send?key=K',
  DINGTALK_WEBHOOK_URL: 'http://dingtalk.test/robot/send?access_token=T',
  DINGTALK_SECRET,
  SMS_GATEWAY_URL: 'http://sms.test/send',
  PUBLIC_URL: 'https://safety.example.cn/',
  PLATFORM_API_URL: 'http://127.0.0.1:9',
  PLATFORM_API_TOKEN: 'notifier-token',
  NOTIFY_DIGEST_S: '0.3',
  NOTIFY_RETRIES: '2',
  NOTIFY_RETRY_BASE_MS: '100',
  NOTIFY_ROBOT_PER_MIN: '20',
};

const labels = {
  statuses: { collected: { zh: '信息收集' }, accepted: { zh: '立案受理' }, dispatched: { zh: '分流转办' } },
  actions: { accept: { zh: '受理' }, dispatch: { zh: '派单' } },
  severities: { critical: { zh: '紧急' }, major: { zh: '重要' }, minor: { zh: '一般' } },
  departments: { fire_brigade: { zh: '消防救援' }, police: { zh: '公安派出所' } },
  roles: { grid_worker: { zh: '网格员' }, community_dispatcher: { zh: '社区调度员' }, street_dispatcher: { zh: '街道指挥中心' }, department: { zh: '职能部门' }, resident: { zh: '居民' }, property_manager: { zh: '物业经理' }, property_staff: { zh: '物业维修员' } },
  levels: { grid: { zh: '网格' }, community: { zh: '社区' }, street: { zh: '街道' } },
};
const person = (id: string, role: string, more: Record<string, unknown> = {}) => ({ id, name: `${id}名`, role, gridIds: [], communityIds: [], streetIds: [], department: null, phone: null, wecomUserId: null, dingtalkUserId: null, channels: null, notifyProgress: true, ...more });
const DIRECTORY = {
  users: [
    person('gw-1', 'grid_worker', { gridIds: ['g-1'], phone: '13800000001', wecomUserId: 'wang' }),
    person('gw-2', 'grid_worker', { gridIds: ['g-1'], phone: '13800000002' }),
    person('cd-1', 'community_dispatcher', { communityIds: ['c-1'], phone: '13800000011', dingtalkUserId: 'dt-cd' }),
    person('sd-1', 'street_dispatcher', { communityIds: ['c-1'], streetIds: ['s-1'], phone: '13800000021' }),
    person('fire', 'department', { department: 'fire_brigade', phone: '13800000119', channels: ['sms'] }),
    person('police', 'department', { department: 'police', phone: '13800000110' }),
    person('pm-1', 'property_manager', { communityIds: ['c-1'], wecomUserId: 'pm' }),
    person('res-1', 'resident', { phone: '13900000001', channels: ['sms'] }),
    person('res-2', 'resident', { phone: '13900000002', notifyProgress: false }),
    person('nobody', 'grid_worker', { gridIds: ['g-1'] }),
  ],
  duty: { 'g-1': 'gw-1', 'c-1': 'cd-1' },
  places: { 's-1': { name: '和平街道' }, 'c-1': { name: '梨园社区' }, 'g-1': { name: '梨园第一网格' }, 'b-1': { name: '梨园社区1号楼' } },
  labels,
};
const ITEM = {
  id: 'WO-20261202-aaaa0001', kind: 'work_order', status: 'collected', severity: 'critical', title: '梨园社区1号楼 烟感探测器-1：烟雾浓度超标',
  gridId: 'g-1', communityId: 'c-1', streetId: 's-1', buildingId: 'b-1', assigneeId: 'gw-1', reporterId: null, escalationLevel: 'grid',
  acceptDue: '2026-12-02T06:05:00.000Z', resolveDue: '2026-12-02T07:00:00.000Z',
};
const event = (e: Record<string, unknown>, item: Record<string, unknown> = {}) => ({ kind: 'work_item', at: new Date().toISOString(), ...e, item: { ...ITEM, ...item } });

/** What one output of a node sent. */
type Out = any[];

/** Runs one function node of the flows on `msgs`; what each output sent within `waitMs`. */
async function run(id: string, msgs: unknown[], opts: { waitMs?: number; flow?: Record<string, unknown>; env?: Record<string, string | undefined>; later?: { afterMs: number; msg: unknown }[] } = {}): Promise<[Out, Out, Out]> {
  const def = FLOWS.find((n) => n.id === id && n.type === 'function')!;
  const outputs = def.outputs ?? 1;
  const env = { ...ENV, ...opts.env };
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    // In a tab of its own (its flow context is the tab's), each output wired to a helper node.
    const tab = { id: 'tab', type: 'tab', label: 'test' };
    const outs = Array.from({ length: outputs }, (_, i) => ({ id: `out${i}`, type: 'helper', z: tab.id }));
    await helper.load(functionNode, [tab, { ...def, z: tab.id, wires: outs.map((o) => [o.id]) }, ...outs]);
    const fn = helper.getNode(id);
    for (const [k, v] of Object.entries(opts.flow ?? {})) fn.context().flow.set(k, v);
    const got: any[][] = outs.map(() => []);
    outs.forEach((o, i) => helper.getNode(o.id).on('input', (m: unknown) => got[i]!.push(m)));
    for (const m of msgs) fn.receive(m);
    for (const l of opts.later ?? []) setTimeout(() => fn.receive(l.msg), l.afterMs);
    await new Promise((r) => setTimeout(r, opts.waitMs ?? 80));
    return got as [Out, Out, Out];
  } finally {
    await helper.unload();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

beforeAll(() => new Promise<void>((resolve) => helper.startServer(resolve)));
afterAll(() => new Promise<void>((resolve) => helper.stopServer(resolve)));

describe('audience', () => {
  const audience = async (e: unknown, env?: Record<string, string | undefined>) => {
    const [people, tally] = await run('audience', [{ topic: 't', payload: e }], { flow: { directory: DIRECTORY }, env });
    return { people: people.map((m) => ({ id: m.recipient.id, reason: m.recipient.reason, channels: m.channels })), tally };
  };

  it('a new work order goes to its assignee, the grid worker on duty, on every channel they have an address on', async () => {
    const { people } = await audience(event({ event: 'created' }));
    expect(people).toEqual([{ id: 'gw-1', reason: 'new', channels: ['wecom', 'dingtalk', 'sms'] }]);
  });

  it('unassigned: the grid\'s worker on duty; nobody on duty: every worker of the grid who can be reached', async () => {
    expect((await audience(event({ event: 'created' }, { assigneeId: null }))).people.map((p) => p.id)).toEqual(['gw-1']);
    const none = { ...DIRECTORY, duty: {} };
    const [people] = await run('audience', [{ payload: event({ event: 'reminder' }, { assigneeId: null }) }], { flow: { directory: none } });
    expect(people.map((m) => m.recipient.id)).toEqual(['gw-1', 'gw-2']);
  });

  it('an escalation reaches the level\'s dispatcher; a whistle each whistled department\'s people, as they chose', async () => {
    expect((await audience(event({ event: 'escalated', data: { level: 'community', why: 'accept' } }, { escalationLevel: 'community', assigneeId: 'cd-1' }))).people).toEqual([{ id: 'cd-1', reason: 'escalated', channels: ['wecom', 'dingtalk', 'sms'] }]);
    expect((await audience(event({ event: 'escalated', data: { level: 'street' } }, { escalationLevel: 'street', assigneeId: null }))).people.map((p) => p.id)).toEqual(['sd-1']);
    expect((await audience(event({ event: 'whistled', actor: { id: 'gw-1', role: 'grid_worker' }, data: { departments: ['fire_brigade', 'police'] } }))).people).toEqual([
      { id: 'fire', reason: 'whistled', channels: ['sms'] },
      { id: 'police', reason: 'whistled', channels: ['wecom', 'dingtalk', 'sms'] },
    ]);
  });

  it('only channels switched on; nobody without an address; never the person who acted', async () => {
    expect((await audience(event({ event: 'created' }), { WECOM_WEBHOOK_URL: undefined, SMS_GATEWAY_URL: undefined })).people).toEqual([{ id: 'gw-1', reason: 'new', channels: ['dingtalk'] }]);
    expect((await audience(event({ event: 'created' }, { assigneeId: 'nobody' }))).people).toEqual([]);
    expect((await audience(event({ event: 'transition', action: 'dispatch', actor: { id: 'gw-1', role: 'grid_worker' } }))).people).toEqual([]);
    expect((await audience(event({ event: 'transition', action: 'dispatch', actor: { id: 'cd-1', role: 'community_dispatcher' } }))).people).toEqual([{ id: 'gw-1', reason: 'assigned', channels: ['wecom', 'dingtalk', 'sms'] }]);
    expect((await audience(event({ event: 'counted' }))).people).toEqual([]);
  });

  it('a resident hears each step of what they raised, with a receipt when filing, unless they said no', async () => {
    const ticket = { kind: 'ticket', reporterId: 'res-1', assigneeId: null };
    expect((await audience(event({ event: 'created', actor: { id: 'res-1', role: 'resident' } }, ticket))).people).toEqual([
      { id: 'pm-1', reason: 'new', channels: ['wecom'] },
      { id: 'res-1', reason: 'progress', channels: ['sms'] },
    ]);
    expect((await audience(event({ event: 'transition', action: 'accept', actor: { id: 'pm-1', role: 'property_manager' } }, ticket))).people).toEqual([{ id: 'res-1', reason: 'progress', channels: ['sms'] }]);
    expect((await audience(event({ event: 'transition', action: 'accept', actor: { id: 'pm-1', role: 'property_manager' } }, { ...ticket, reporterId: 'res-2' }))).people).toEqual([]);
    // A resident who chose nothing is still told by SMS only: the robots post into staff groups.
    const open = { ...DIRECTORY, users: DIRECTORY.users.map((u) => (u.id === 'res-2' ? { ...u, notifyProgress: true } : u)) };
    const [people] = await run('audience', [{ payload: event({ event: 'transition', action: 'accept', actor: { id: 'pm-1', role: 'property_manager' } }, { ...ticket, reporterId: 'res-2' }) }], { flow: { directory: open } });
    expect(people.map((m) => [m.recipient.id, m.channels])).toEqual([['res-2', ['sms']]]);
  });

  it('a ticket\'s reminder goes to its compound\'s managers, never to grid workers; events grown old on the broker are dropped', async () => {
    expect((await audience(event({ event: 'reminder' }, { kind: 'ticket', assigneeId: null }))).people.map((p) => p.id)).toEqual(['pm-1']);
    expect((await audience({ ...event({ event: 'created' }), at: new Date(Date.now() - 2 * 3_600_000).toISOString() })).people).toEqual([]);
  });

  it('紧急事件一键调度: everyone responsible on every channel they have, whatever they chose, with the roster for the tally', async () => {
    const { people, tally } = await audience(event({ event: 'transition', action: 'urgent', actor: { id: 'cd-1', role: 'community_dispatcher' }, data: { departments: ['fire_brigade'] } }));
    expect(people.map((p) => p.id)).toEqual(['gw-1', 'sd-1', 'fire', 'pm-1']);
    expect(people.find((p) => p.id === 'fire')!.channels).toEqual(['wecom', 'dingtalk', 'sms']);
    expect(tally).toHaveLength(1);
    expect(tally[0]).toMatchObject({ tally: 'start', itemId: ITEM.id, expected: 3 + 3 + 3 + 1, roster: expect.arrayContaining([{ userId: 'pm-1', channels: ['wecom'] }]) });
  });

  it('events that come before the directory wait for it', async () => {
    const [people] = await run('audience', [{ payload: event({ event: 'created' }) }], { flow: {} });
    expect(people).toEqual([]);
    const [released] = await run('directory-store', [{ statusCode: 200, payload: DIRECTORY }], { flow: { waiting: [{ payload: 1 }, { payload: 2 }] } });
    expect(released.map((m) => m.payload)).toEqual([1, 2]);
  });
});

describe('format', () => {
  const format = async (e: unknown, reason: string) => (await run('format', [{ payload: e, recipient: { id: 'x', reason } }], { flow: { directory: DIRECTORY } }))[0][0].notice;

  it('names the place by name, the severity, the deadline in China time and the link', async () => {
    const n = await format(event({ event: 'created' }), 'new');
    expect(n.title).toBe('【新工单·紧急】梨园社区1号楼 烟感探测器-1：烟雾浓度超标');
    expect(n.lines).toEqual(['地点：梨园社区 · 梨园第一网格 · 1号楼', '等级：紧急', '时限：请于 14:05 前受理']);
    expect(n.link).toBe('https://safety.example.cn/work-orders/WO-20261202-aaaa0001');
  });

  it('says who whistled and by when to report in; why it was escalated', async () => {
    const w = await format(event({ event: 'whistled', actor: { id: 'gw-1', role: 'grid_worker' }, data: { departments: ['fire_brigade'], reportDue: '2026-12-02T06:30:00.000Z' } }), 'whistled');
    expect(w.title.startsWith('【吹哨报到·紧急】')).toBe(true);
    expect(w.lines).toContain('吹哨：网格员 gw-1名 吹哨 消防救援，请于 14:30 前报到');
    const up = await format(event({ event: 'escalated', data: { why: 'accept' } }, { escalationLevel: 'community' }), 'escalated');
    expect(up.title.startsWith('【升级至社区·紧急】')).toBe(true);
    expect(up.lines).toContain('原因：超时未受理');
  });

  it('a resident reads the step in plain words, with no grid detail', async () => {
    const n = await format(event({ event: 'transition', action: 'accept' }, { kind: 'ticket', status: 'accepted', title: '梨园社区1号楼 2单元301 水电维修：厨房漏水' }), 'progress');
    expect(n.title).toBe('【报修进度】梨园社区1号楼 2单元301 水电维修：厨房漏水');
    expect(n.lines).toEqual(['当前进度：立案受理', '办理：受理']);
    expect(n.link).toBe('https://safety.example.cn/tickets/WO-20261202-aaaa0001');
  });
});

describe('channel requests', () => {
  const notice = { title: '【新工单·紧急】梨园社区1号楼 烟感探测器-1：烟雾浓度超标', lines: ['地点：梨园社区 · 梨园第一网格 · 1号楼'], link: 'https://x/work-orders/WO-1', itemIds: ['WO-1'], kind: 'work_order', severity: 'critical', reason: 'new' };
  const requests = async (recipient: Record<string, unknown>, channels: string[], n = notice, env?: Record<string, string | undefined>) =>
    (await run('requests', [{ notice: n, recipient: { id: 'p', name: '某人', role: 'grid_worker', ...recipient }, channels }], { env }))[0];

  it('DingTalk calls are signed as DingTalk documents it: base64 HMAC-SHA256 of timestamp + "\\n" + secret, URL-encoded', async () => {
    const before = Date.now();
    const [r] = await requests({ phone: '13800000001' }, ['dingtalk']);
    const url = new URL(r.url);
    expect(url.searchParams.get('access_token')).toBe('T');
    const ts = Number(url.searchParams.get('timestamp'));
    expect(ts).toBeGreaterThanOrEqual(before);
    const expected = createHmac('sha256', DINGTALK_SECRET).update(`${ts}\n${DINGTALK_SECRET}`).digest('base64');
    expect(url.searchParams.get('sign')).toBe(expected);
    expect(r.url).toContain(`sign=${encodeURIComponent(expected)}`);
    expect(r.payload).toMatchObject({ msgtype: 'markdown', at: { atMobiles: ['13800000001'], atUserIds: [], isAtAll: false } });
    expect(r.payload.markdown.text).toContain('@13800000001');
    // Known by their DingTalk id: mentioned by it, and the phone is not printed into the group.
    const [byId] = await requests({ phone: '13800000001', dingtalkUserId: 'dt-1' }, ['dingtalk']);
    expect(byId.payload.at).toEqual({ atUserIds: ['dt-1'], atMobiles: ['13800000001'], isAtAll: false });
    expect(byId.payload.markdown.text).toContain('@dt-1');
    expect(byId.payload.markdown.text).not.toContain('13800000001');
    // No secret: the robot's URL as it is (keyword or IP security instead).
    const [plain] = await requests({ phone: '13800000001' }, ['dingtalk'], notice, { DINGTALK_SECRET: undefined });
    expect(plain.url).toBe(ENV.DINGTALK_WEBHOOK_URL);
  });

  it('WeCom: markdown @-mentioning the userid, or text @-mentioning the phone', async () => {
    const [md] = await requests({ wecomUserId: 'wang' }, ['wecom']);
    expect(md.url).toBe(ENV.WECOM_WEBHOOK_URL);
    expect(md.payload.msgtype).toBe('markdown');
    expect(md.payload.markdown.content).toContain('<@wang>');
    expect(md.payload.markdown.content).toContain('**【新工单·紧急】');
    const [text] = await requests({ phone: '13800000002' }, ['wecom']);
    expect(text.payload).toMatchObject({ msgtype: 'text', text: { mentioned_mobile_list: ['13800000002'] } });
  });

  it('SMS: the gateway contract, with the token when one is set', async () => {
    const [sms] = await requests({ phone: '13800000003' }, ['sms'], notice, { SMS_GATEWAY_TOKEN: 'gw-token' });
    expect(sms).toMatchObject({ url: ENV.SMS_GATEWAY_URL, method: 'POST', headers: { authorization: 'Bearer gw-token', 'content-type': 'application/json' } });
    expect(sms.payload).toEqual({ to: '13800000003', text: expect.stringContaining('梨园社区1号楼'), itemIds: ['WO-1'], kind: 'work_order', severity: 'critical', urgent: false, link: 'https://x/work-orders/WO-1' });
  });

  it('an SMS is at most 500 characters; its itemIds name every item', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `WO-20261202-${String(i).padStart(8, '0')}`);
    const [sms] = await requests({ phone: '13800000003' }, ['sms'], { ...notice, lines: [`【新工单·重要】 200 条：${ids.join(' ')}`], itemIds: ids, reason: 'digest' });
    expect(sms.payload.text.length).toBeLessThanOrEqual(500);
    expect(sms.payload.text).toContain('共 200 条');
    expect(sms.payload.itemIds).toEqual(ids);
  });

  it('a long digest is split into parts WeCom takes (text 2,048 bytes, markdown 4,096), together holding every id', async () => {
    for (const [count, recipient] of [[60, { phone: '13800000002' }], [120, { phone: '13800000002' }], [300, { phone: '13800000002' }], [120, { wecomUserId: 'wang' }], [300, { wecomUserId: 'wang' }]] as const) {
    const ids = Array.from({ length: count }, (_, i) => `WO-20261202-${String(i).padStart(8, '0')}`);
    const digest = { ...notice, title: `【汇总】近 1 分钟 ${count} 条待办工单`, lines: [`【新工单·重要】 ${count} 条：${ids.join(' ')}`, `例：梨园社区1号楼 烟感探测器-1：烟雾浓度超标`], itemIds: ids, reason: 'digest' };
      const parts = await requests(recipient, ['wecom'], digest);
      expect(parts.length).toBeLessThanOrEqual(3);
      const text = parts.map((p) => p.payload.markdown?.content ?? p.payload.text.content).join('\n');
      expect(ids.filter((id) => !text.includes(id))).toEqual([]);
      parts.forEach((p, i) => expect(Buffer.byteLength(p.payload.markdown?.content ?? p.payload.text.content), `${count} ids, part ${i + 1}`).toBeLessThanOrEqual(i === 0 && 'phone' in recipient ? 2048 : 4096));
      expect(parts[0]!.payload.msgtype).toBe('phone' in recipient ? 'text' : 'markdown');
      if (parts.length > 1) expect(parts.at(-1)!.payload.markdown.content).toContain(`（${parts.length}/${parts.length}）`);
    }
  });
});

describe('digest', () => {
  const msg = (i: number, who = 'gw-1', reason = 'new') => ({ recipient: { id: who, reason }, channels: ['wecom'], notice: { title: `【新工单·重要】楼道堆物 ${i}`, lines: [], link: '', itemIds: [`WO-${i}`], kind: 'work_order', severity: 'major', reason } });

  it('the first goes out at once; the rest of the window comes at the tick as one digest naming every item; each person has their own window', async () => {
    const msgs = [...Array.from({ length: 50 }, (_, i) => msg(i)), msg(99, 'gw-2')];
    const [out] = await run('digest', msgs, { waitMs: 600, later: [{ afterMs: 100, msg: { tick: true } }, { afterMs: 450, msg: { tick: true } }] });
    // The early tick finds the window still open: nothing goes out until the window ends.
    expect(out.map((m) => m.notice.itemIds.length)).toEqual([1, 1, 49]);
    expect(out[0].notice.itemIds).toEqual(['WO-0']);
    expect(out[1].recipient.id).toBe('gw-2');
    const d = out[2].notice;
    expect(d.title).toBe('【汇总】近 0.3 秒 49 条待办工单');
    expect(d.itemIds).toEqual(Array.from({ length: 49 }, (_, i) => `WO-${i + 1}`));
    expect(d.lines[0]).toBe(`【新工单·重要】 49 条：${d.itemIds.join(' ')}`);
  });

  it('the first five critical ones of a window go out at once, then they wait too', async () => {
    const critical = (i: number) => ({ ...msg(i), notice: { ...msg(i).notice, severity: 'critical' } });
    const [out] = await run('digest', Array.from({ length: 8 }, (_, i) => critical(i)));
    expect(out.map((m) => m.notice.itemIds[0])).toEqual(['WO-0', 'WO-1', 'WO-2', 'WO-3', 'WO-4', 'WO-5']);
  });

  it('urgent messages and residents\' progress never wait', async () => {
    const [out] = await run('digest', [msg(1), { ...msg(2), urgent: true }, msg(3, 'res-1', 'progress'), msg(4, 'res-1', 'progress')]);
    expect(out.map((m) => m.notice.itemIds[0])).toEqual(['WO-1', 'WO-2', 'WO-3', 'WO-4']);
  });
});

describe('delivery outcome', () => {
  const answered = (statusCode: unknown, payload: unknown, attempt = 1) => ({ statusCode, payload, attempt, channel: 'dingtalk', recipient: { id: 'gw-1', name: '网格员甲' }, request: { method: 'POST', url: 'http://d', headers: { a: 1 }, payload: { msgtype: 'markdown' } }, itemIds: ['WO-1'], reason: 'new' });

  it('2xx with errcode 0 is delivered; anything else is tried again with a doubling pause, then failed', async () => {
    const [ok] = await run('result', [answered(200, { errcode: 0 })]);
    expect(ok).toHaveLength(1);
    const [, retry] = await run('result', [answered(200, { errcode: 310000, errmsg: 'sign not match' }), answered('ECONNREFUSED', 'Error', 2)]);
    expect(retry.map((m) => [m.attempt, m.delay, m.payload, m.url])).toEqual([[2, 100, { msgtype: 'markdown' }, 'http://d'], [3, 200, { msgtype: 'markdown' }, 'http://d']]);
    expect(retry[0].error).toBe('HTTP 200 errcode 310000 sign not match');
    // A robot's rate limit waits out the minute; an error never carries the robot's URL (its key).
    const [, slow] = await run('result', [answered(200, { errcode: 45009, errmsg: 'api freq out of limit' })]);
    expect(slow[0].delay).toBe(60000);
    const [, noAnswer] = await run('result', [answered(undefined, 'RequestError: socket hang up : http://wecom.test/send?key=SECRET')]);
    expect(noAnswer[0].error).toBe('no answer');
    const [, , failed] = await run('result', [answered(500, 'busy', 3)]);
    expect(failed).toMatchObject([{ failed: true, error: 'HTTP 500' }]);
  });

  it('a failure is recorded on the items; an urgent dispatch\'s deliveries go to its tally, which records the roster once', async () => {
    const failedPart = (part: number) => ({ ...answered(500, ''), failed: true, error: 'HTTP 500', attempt: 3, noticeId: 'n1', part, of: 2 });
    const [record] = await run('outcome', [failedPart(1), failedPart(2)]);
    expect(record).toHaveLength(1);
    expect(record[0].record).toEqual({ itemIds: ['WO-1'], recipients: [{ userId: 'gw-1', delivered: [], failed: ['dingtalk'] }], reason: 'notice', attempts: 3, error: 'HTTP 500' });
    const start = { tally: 'start', runId: 'r', itemId: 'WO-1', expected: 3, roster: [{ userId: 'a', channels: ['wecom', 'sms'] }, { userId: 'b', channels: ['sms'] }, { userId: 'c', channels: [] }] };
    const outcome = (userId: string, channel: string, ok: boolean) => ({ tally: 'outcome', runId: 'r', userId, channel, part: 1, of: 1, ok, error: ok ? undefined : 'HTTP 500', attempts: 3 });
    const [recorded] = await run('tally', [start, outcome('a', 'wecom', true), outcome('b', 'sms', false), outcome('a', 'sms', true)]);
    expect(recorded).toHaveLength(1);
    expect(recorded[0].record).toEqual({
      itemIds: ['WO-1'], reason: 'urgent', error: 'HTTP 500', attempts: 3,
      recipients: [{ userId: 'a', delivered: ['wecom', 'sms'], failed: [] }, { userId: 'b', delivered: [], failed: ['sms'] }, { userId: 'c', delivered: [], failed: [] }],
    });
    const [none] = await run('tally', [{ ...start, expected: 0, roster: [] }]);
    expect(none[0].record).toEqual({ itemIds: ['WO-1'], recipients: [], reason: 'urgent' });
  });

  it('records and the directory go to the platform with the notifier\'s token', async () => {
    const [req] = await run('platform-request', [{ record: { itemIds: ['WO-1'] } }]);
    expect(req[0]).toMatchObject({ method: 'POST', url: 'http://127.0.0.1:9/api/v1/notifications', headers: { authorization: 'Bearer notifier-token' }, payload: { itemIds: ['WO-1'] } });
    const [dir] = await run('directory-request', [{}]);
    expect(dir[0]).toMatchObject({ method: 'GET', url: 'http://127.0.0.1:9/api/v1/notify/directory', headers: { authorization: 'Bearer notifier-token' } });
    const [login] = await run('login', [{}], { env: { PLATFORM_MQTT_USERNAME: 'svc-notify-flows', PLATFORM_MQTT_PASSWORD: 'pw', PLATFORM_MQTT_CLIENT_ID: 'svc-notify-flows' } });
    expect(login.map((m) => m.action)).toEqual(['connect', 'subscribe']);
    expect(login[0].broker).toEqual({ username: 'svc-notify-flows', password: 'pw', clientid: 'svc-notify-flows' });
    expect(login[1].topic).toEqual({ topic: 'platform/workitems/#', qos: 1 });
  });
});

describe('robot pacing', () => {
  it('at most NOTIFY_ROBOT_PER_MIN a minute per robot; the rest waits in order; urgent ones and SMS are not paced', async () => {
    const m = (i: number, channel = 'wecom', urgent = false) => ({ channel, urgent, i });
    const [out] = await run('pace', [...Array.from({ length: 25 }, (_, i) => m(i)), m(100, 'dingtalk'), m(200, 'sms'), m(300, 'wecom', true)], { later: [{ afterMs: 30, msg: { tick: true } }] });
    expect(out.map((x) => x.i)).toEqual([...Array.from({ length: 20 }, (_, i) => i), 100, 200, 300]);
    // A full queue fails a message at once (then recorded as failed), never holds it unbounded.
    const [sent, failed] = await run('pace', Array.from({ length: 24 }, (_, i) => m(i)), { env: { NOTIFY_PACE_QUEUE: '2' } });
    expect(sent).toHaveLength(20);
    expect(failed.map((x) => [x.i, x.failed, x.error])).toEqual([[22, true, '发送队列已满（2）'], [23, true, '发送队列已满（2）']]);
  });
});

describe('flows.json', () => {
  it('is pretty-printed as Node-RED writes it and holds no secret', () => {
    const raw = readFileSync(path.join(import.meta.dirname, '..', 'flows', 'flows.json'), 'utf8');
    expect(raw).toBe(JSON.stringify(JSON.parse(raw), null, 4) + '\n');
    expect(raw).not.toMatch(/qyapi\.weixin|oapi\.dingtalk|access_token=|key=[A-Za-z0-9-]{8}|"credentials"/);
    // Every function node is one of those tested here.
    const tested = ['login', 'directory-request', 'directory-store', 'audience', 'format', 'digest', 'requests', 'pace', 'result', 'outcome', 'tally', 'platform-request', 'record-result'];
    expect(FLOWS.filter((n) => n.type === 'function').map((n) => n.id).sort()).toEqual(tested.sort());
  });
});
