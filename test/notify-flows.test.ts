import { createHmac } from 'node:crypto';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Received } from './helpers/receiver.ts';
import { startWorkItemsHarness, type WorkItemsHarness } from './helpers/work-items.ts';

/**
 * The notification flows end to end: the platform as `npm start` runs it, its Node-RED child with
 * flows/flows.json, and one local HTTP server standing in for 企业微信, 钉钉 and the SMS gateway.
 * Each test uses its own people or items, so the per-person digest of one does not hold another's.
 */
const SITE = path.join(import.meta.dirname, 'fixtures', 'notify-site.json');
const DINGTALK_SECRET = 'SECtest-dingtalk-secret';
const PUBLIC_URL = 'https://safety.example.cn';

let h: WorkItemsHarness;
let rx: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  rx = await startReceiver();
  h = await startWorkItemsHarness(SITE, {
    NOTIFY_FLOWS: true,
    WECOM_WEBHOOK_URL: rx.urls.wecom,
    DINGTALK_WEBHOOK_URL: rx.urls.dingtalk,
    DINGTALK_SECRET,
    SMS_GATEWAY_URL: rx.urls.sms,
    PUBLIC_URL,
    NOTIFY_DIGEST_S: 8,
    NOTIFY_RETRIES: 2,
    NOTIFY_RETRY_BASE_MS: 200,
    // The tests send more than a real group robot takes in a minute; pacing has its own test.
    NOTIFY_ROBOT_PER_MIN: 1000,
  });
}, 60_000);

afterAll(async () => {
  await h?.dispose();
  await rx?.close();
});

/** DingTalk's documented check of a signed robot call: the sign is HMAC-SHA256(secret, timestamp + "\n" + secret), base64, within an hour. */
function dingtalkSignOk(r: Received): boolean {
  const timestamp = r.query.get('timestamp');
  const sign = r.query.get('sign');
  if (!timestamp || !sign || Math.abs(Date.now() - Number(timestamp)) > 3_600_000) return false;
  return sign === createHmac('sha256', DINGTALK_SECRET).update(`${timestamp}\n${DINGTALK_SECRET}`).digest('base64');
}

const mentions = (r: Received, who: { wecom?: string; phone?: string; dingtalk?: string }) =>
  (who.wecom !== undefined && r.text.includes(`<@${who.wecom}>`)) ||
  (who.phone !== undefined && (r.body?.text?.mentioned_mobile_list?.includes(who.phone) || r.body?.at?.atMobiles?.includes(who.phone) || r.body?.to === who.phone)) ||
  (who.dingtalk !== undefined && r.body?.at?.atUserIds?.includes(who.dingtalk));

async function openItemOf(deviceId: string) {
  const { body } = await h.as('admin').get(`/api/v1/work-orders?deviceId=${deviceId}`);
  return body.items.find((i: { status: string }) => !['closed', 'rejected'].includes(i.status));
}

describe('notification flows', () => {
  it('health says the flows listen, with the channels switched on', async () => {
    const { body } = await h.as('admin').get('/api/v1/health');
    expect(body.notifications).toMatchObject({ state: 'running', subscribed: true, channels: { wecom: true, dingtalk: true, sms: true }, editor: false });
  });

  it('the fire scenario: within 2 s the grid worker on duty has a Chinese WeCom message naming the building, DingTalk a signed one, the fire brigade an SMS; an escalation reaches the community dispatcher', async () => {
    const since = Date.now();
    await h.send('b-l1-smoke-detector-1', { alarm: true });
    const wo = await openItemOf('b-l1-smoke-detector-1');
    const wecom = await rx.waitFor((r) => r.channel === 'wecom' && r.at >= since && mentions(r, { wecom: 'wang.wei' }), 2000, 'WeCom message to gw-l1');
    expect(wecom.at - since).toBeLessThan(2000);
    expect(wecom.body.msgtype).toBe('markdown');
    expect(wecom.text).toContain('【新工单·紧急】');
    expect(wecom.text).toContain('1号楼');
    expect(wecom.text).toContain('梨园第一网格');
    expect(wecom.text).toContain(`${PUBLIC_URL}/work-orders/${wo.id}`);
    expect(wecom.query.get('key')).toBe('test-key');

    const ding = await rx.waitFor((r) => r.channel === 'dingtalk' && r.at >= since && mentions(r, { dingtalk: 'dt-gw-l1' }), 2000, 'DingTalk message to gw-l1');
    expect(dingtalkSignOk(ding)).toBe(true);
    expect(ding.query.get('access_token')).toBe('test-token');
    // Mentioned by their DingTalk id; their phone number is not printed into the group.
    expect(ding.body).toMatchObject({ msgtype: 'markdown', at: { atUserIds: ['dt-gw-l1'], atMobiles: ['13800000001'] } });
    expect(ding.body.markdown.text).toContain('1号楼');
    expect(ding.body.markdown.text).toContain('@dt-gw-l1');
    expect(ding.body.markdown.text).not.toContain('13800000001');

    // The smoke rule whistles the fire brigade: its liaison wants SMS only.
    const sms = await rx.waitFor((r) => r.channel === 'sms' && r.at >= since && r.body.to === '13800000119', 2000, 'SMS to the fire brigade');
    expect(sms.text).toContain('【吹哨报到·紧急】');
    expect(sms.text).toContain('消防救援');
    expect(sms.text).toContain('1号楼');
    expect(sms.body).toMatchObject({ itemIds: [wo.id], kind: 'work_order', severity: 'critical' });
    expect(rx.received.some((r) => r.at >= since && r.channel !== 'sms' && mentions(r, { phone: '13800000119' }))).toBe(false);

    // Nobody accepts within the critical deadline (5 min): the item climbs to the community.
    const before = Date.now();
    h.clock.advance(5 * 60_000 + 1000);
    await h.settle();
    const up = await rx.waitFor((r) => r.channel === 'wecom' && r.at >= before && mentions(r, { wecom: 'cd.liyuan' }), 3000, 'WeCom message to the community dispatcher');
    expect(up.text).toContain('【升级至社区·紧急】');
    expect(up.text).toContain('超时未受理');
    const upDing = await rx.waitFor((r) => r.channel === 'dingtalk' && r.at >= before && mentions(r, { dingtalk: 'dt-cd-l' }), 3000, 'DingTalk message to the community dispatcher');
    expect(dingtalkSignOk(upDing)).toBe(true);
  });

  it('a resident hears of their 一键报修 at each step, by SMS as they chose', async () => {
    const filed = await h.as('res-1').post('/api/v1/tickets', { category: 'plumbing', description: '厨房水管漏水', buildingId: 'b-l1', unit: '2单元', room: '301' });
    expect(filed.status).toBe(201);
    const id = filed.body.id;
    const toResident = (step: string) => rx.waitFor((r) => r.channel === 'sms' && r.body.to === '13900000001' && r.body.itemIds?.includes(id) && r.text.includes(step), 3000, `SMS "${step}" to res-1`);
    expect((await toResident('已收到您的报修')).text).toContain('【报修进度】');
    expect((await h.act('pm-l', id, 'accept')).status).toBe(200);
    await toResident('当前进度：立案受理');
    expect((await h.act('pm-l', id, 'dispatch', { assigneeId: 'staff-l' })).status).toBe(200);
    await toResident('当前进度：分流转办');
    // The staff member is told of their task (WeCom by phone: they have no WeCom id).
    const task = await rx.waitFor((r) => r.channel === 'wecom' && mentions(r, { phone: '13800000041' }) && r.text.includes(id), 3000, 'WeCom message to the staff');
    expect(task.body.msgtype).toBe('text');
    expect(task.text).toContain('【派单·');
    expect((await h.act('staff-l', id, 'start')).status).toBe(200);
    await toResident('当前进度：问题处置');
    expect((await h.act('staff-l', id, 'resolve', { note: '已更换水管' })).status).toBe(200);
    await toResident('当前进度：结果反馈');
    expect((await h.act('pm-l', id, 'verify')).status).toBe(200);
    const last = await toResident('当前进度：核查结单');
    expect(last.text).toContain(`${PUBLIC_URL}/tickets/${id}`);
    // Residents never got the grid's or the staff's wording.
    expect(rx.received.filter((r) => r.body?.to === '13900000001').every((r) => r.text.startsWith('【报修进度】'))).toBe(true);
  });

  it('a resident who said no hears nothing of their item', async () => {
    const filed = await h.as('res-2').post('/api/v1/tickets', { category: 'plumbing', description: '楼道灯不亮', buildingId: 'b-t1' });
    expect(filed.status).toBe(201);
    const me = await h.as('res-2').get('/api/v1/me');
    expect(me.body).toMatchObject({ id: 'res-2', notifyProgress: false, phone: '13900000002' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(rx.received.some((r) => r.body?.to === '13900000002' || mentions(r, { phone: '13900000002' }))).toBe(false);
  });

  it('a receiver that answers 500 is retried, then the failure is on the item\'s timeline; the other channels still deliver', async () => {
    rx.fail('dingtalk');
    try {
      const since = Date.now();
      await h.send('b-l3-smoke-detector-1', { alarm: true });
      const wo = await openItemOf('b-l3-smoke-detector-1');
      // gw-l2 (no DingTalk id: mentioned by phone) — WeCom and SMS arrive all the same.
      await rx.waitFor((r) => r.channel === 'wecom' && r.at >= since && mentions(r, { wecom: 'li.na' }) && r.text.includes(wo.id), 3000, 'WeCom message to gw-l2');
      await rx.waitFor((r) => r.channel === 'sms' && r.at >= since && r.body.to === '13800000002', 3000, 'SMS to gw-l2');
      // 1 try + 2 retries (200 ms, 400 ms), each answered 500.
      const deadline = Date.now() + 8000;
      let entry: any;
      while (Date.now() < deadline && !entry) {
        await new Promise((r) => setTimeout(r, 200));
        entry = (await h.as('admin').get(`/api/v1/work-orders/${wo.id}`)).body.timeline.find((t: { action: string }) => t.action === 'notify_failed');
      }
      const tries = rx.received.filter((r) => r.channel === 'dingtalk' && r.at >= since && mentions(r, { phone: '13800000002' }));
      expect(tries.length).toBe(3);
      expect(tries.every((t) => t.status === 500)).toBe(true);
      expect(entry).toMatchObject({ actorId: 'notify-flows', actorRole: 'notifier', fromStatus: null, toStatus: null, data: { recipients: [{ userId: 'gw-l2', delivered: [], failed: ['dingtalk'] }], attempts: 3, error: expect.stringContaining('HTTP 500') } });
      expect(entry.note).toContain('网格员 网格员乙（钉钉）');
      expect(entry.note).toContain('重试 2 次后仍失败');
      // The item did not move: a notice is no step of the loop.
      expect((await h.as('admin').get(`/api/v1/work-orders/${wo.id}`)).body.status).toBe('collected');
    } finally {
      rx.fail('dingtalk', false);
    }
  });

  it('200 items in a minute for one grid worker come as at most 3 WeCom messages that name all 200', async () => {
    const since = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const r = await h.as('res-2').post('/api/v1/work-orders', { category: 'fire_exit_blocked', description: `6号楼楼道堆物 ${i}`, buildingId: 'b-t1' });
      expect(r.status).toBe(201);
      ids.push(r.body.id);
    }
    // The first goes at once, the rest wait for the end of the window (8 s here, 60 s by default).
    await rx.waitFor((r) => r.channel === 'wecom' && r.at >= since && mentions(r, { phone: '13800000003' }) && r.text.includes('【汇总】'), 15_000, 'the digest to gw-t1');
    await new Promise((r) => setTimeout(r, 1000));
    // A digest's first part @-mentions the worker; the parts after it follow in the group, unmentioned.
    const toWorker = rx.received.filter((r) => r.channel === 'wecom' && r.at >= since && (mentions(r, { phone: '13800000003' }) || ids.some((id) => r.text.includes(id))));
    expect(toWorker.length).toBeLessThanOrEqual(3);
    const all = toWorker.map((r) => r.text).join('\n');
    expect(ids.filter((id) => !all.includes(id))).toEqual([]);
    // Within what WeCom takes: a text message 2,048 bytes, markdown 4,096.
    for (const r of toWorker) expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(r.body.msgtype === 'text' ? 2048 : 4096);
    const sms = rx.received.filter((r) => r.channel === 'sms' && r.at >= since && r.body.to === '13800000003');
    expect(sms.length).toBeLessThanOrEqual(3);
    expect(ids.filter((id) => !sms.some((s) => s.body.itemIds.includes(id)))).toEqual([]);
  }, 40_000);

  it('紧急事件一键调度 reaches every responsible person on every channel they have, and the timeline says who', async () => {
    const wo = await openItemOf('b-l1-smoke-detector-1');
    const since = Date.now();
    const r = await h.act('cd-l', wo.id, 'urgent', { note: '火势蔓延，立即增援' });
    expect(r.status).toBe(200);
    // Everyone responsible: the grid worker, the street dispatcher, the whistled fire brigade, the
    // property manager (the community dispatcher who called it needs no message).
    const people = [
      { id: 'gw-l1', wecom: 'wang.wei', phone: '13800000001', dingtalk: 'dt-gw-l1' },
      { id: 'sd', phone: '13800000021', dingtalk: 'dt-sd' },
      { id: 'fire-1', phone: '13800000119' },
      { id: 'pm-l', wecom: 'pm.liyuan', phone: '13800000031' },
    ];
    for (const p of people) {
      for (const channel of ['wecom', 'dingtalk', 'sms'] as const) {
        const got = await rx.waitFor((x) => x.channel === channel && x.at >= since && mentions(x, p) && x.text.includes('【紧急调度·紧急】'), 3000, `${channel} to ${p.id}`);
        if (channel === 'dingtalk') expect(dingtalkSignOk(got)).toBe(true);
      }
    }
    expect(rx.received.some((x) => x.at >= since && mentions(x, { wecom: 'cd.liyuan', phone: '13800000011' }))).toBe(false);
    let entry: any;
    for (let i = 0; i < 40 && !entry; i++) {
      await new Promise((res) => setTimeout(res, 100));
      entry = (await h.as('cd-l').get(`/api/v1/work-orders/${wo.id}`)).body.timeline.find((t: { action: string; data: { reason?: string } }) => t.action === 'notified' && t.data.reason === 'urgent');
    }
    expect(entry.data.recipients).toEqual(expect.arrayContaining(people.map((p) => ({ userId: p.id, delivered: ['wecom', 'dingtalk', 'sms'], failed: [] }))));
    expect(entry.note).toContain('紧急调度已送达：');
    expect(entry.note).toContain('职能部门 消防救援站（企业微信、钉钉、短信）');
  });

  it('紧急事件一键调度 over MQTT, from a service account allowed to publish platform/commands/urgent', async () => {
    const wo = await openItemOf('b-l3-smoke-detector-1');
    const sa = await h.as('admin').post('/api/v1/service-accounts', { name: '大屏一键调度按钮', subscribe: ['platform/workitems/#'], publish: ['platform/commands/urgent'] });
    expect(sa.status).toBe(201);
    const c = await mqtt.connectAsync(h.p.mqttUrl, { username: sa.body.username, password: sa.body.secret, clientId: sa.body.username, reconnectPeriod: 0 });
    const since = Date.now();
    await c.publishAsync('platform/commands/urgent', JSON.stringify({ itemId: wo.id }), { qos: 1 });
    await c.endAsync();
    await rx.waitFor((x) => x.channel === 'sms' && x.at >= since && x.body.to === '13800000002' && x.text.includes('【紧急调度'), 3000, 'urgent SMS to gw-l2');
    const { body } = await h.as('admin').get(`/api/v1/work-orders/${wo.id}`);
    expect(body.timeline.find((t: { action: string }) => t.action === 'urgent')).toMatchObject({ actorId: sa.body.username, actorRole: 'platform', note: expect.stringContaining(`服务账号 ${sa.body.username}`) });
  });

  it('no account speaks on platform/ but through a command granted by its exact name: a `#` account can neither fake an event nor call an urgent dispatch', async () => {
    const wo = await openItemOf('b-l1-smoke-detector-1');
    const sa = await h.as('admin').post('/api/v1/service-accounts', { name: '桥接', subscribe: ['#'], publish: ['#'] });
    // The tests before may still have messages on their way (an urgent dispatch reaches a dozen
    // people): start counting once nothing has arrived for a second.
    for (let i = 0; i < 100 && rx.received.some((x) => x.at > Date.now() - 1000); i++) await new Promise((r) => setTimeout(r, 100));
    const since = Date.now();
    for (const [topic, payload] of [
      ['platform/workitems/created/work_order/g-l1/WO-FAKE', { kind: 'work_item', event: 'created', at: new Date().toISOString(), item: { ...wo, id: 'WO-FAKE', title: '伪造的工单' } }],
      ['platform/commands/urgent', { itemId: wo.id }],
    ] as const) {
      const c = await mqtt.connectAsync(h.p.mqttUrl, { username: sa.body.username, password: sa.body.secret, clientId: sa.body.username, reconnectPeriod: 0 });
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.publish(topic, JSON.stringify(payload), { qos: 1 });
      await closed; // MQTT 3.1.1 refuses a PUBLISH by closing the connection
      c.end(true);
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect(rx.received.filter((r) => r.at >= since)).toEqual([]);
    const { body } = await h.as('admin').get(`/api/v1/work-orders/${wo.id}`);
    expect(body.timeline.filter((t: { action: string; at: string; actorId: string }) => t.action === 'urgent' && Date.parse(t.at) >= since - 1000 && t.actorId === sa.body.username)).toEqual([]);
  });

  it('contacts are shown only to admins, the notifier and the person themself', async () => {
    expect((await h.as('gw-l1').get('/api/v1/me')).body).toMatchObject({ id: 'gw-l1', phone: '13800000001', wecomUserId: 'wang.wei', channels: null });
    expect((await h.as('gw-l1').get('/api/v1/notify/directory')).status).toBe(403);
    expect((await h.as('gw-l1').get('/api/v1/users')).status).toBe(403);
    const staff = await h.as('cd-l').get('/api/v1/staff');
    expect(JSON.stringify(staff.body)).not.toContain('1380000');
    const set = await h.p.api('PUT', '/api/v1/me/contacts', { channels: ['wecom'], phone: '13800000099' }, h.tokens['gw-l2']);
    expect(set).toMatchObject({ status: 200, body: { id: 'gw-l2', phone: '13800000099', channels: ['wecom'], wecomUserId: 'li.na' } });
    const bad = await h.p.api('PUT', '/api/v1/me/contacts', { phone: '123; DROP' }, h.tokens['gw-l2']);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('手机号');
    const list = (await h.as('admin').get('/api/v1/users')).body.items.find((u: { id: string }) => u.id === 'gw-l2');
    expect(list).toMatchObject({ phone: '13800000099', channels: ['wecom'] });
  });
});
