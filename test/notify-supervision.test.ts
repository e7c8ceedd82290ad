import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestPlatform, type TestPlatform } from './helpers/platform.ts';
import { startPlatformProcess } from './helpers/process.ts';
import { startReceiver } from './helpers/receiver.ts';
import { exportFlows } from '../notify/flows-export.ts';

/**
 * The flows' Node-RED as the platform runs it: a child it restarts when it dies (what happened
 * meanwhile waits in its broker session and is delivered after), that ends with the platform even
 * after `kill -9`, and whose editor is at /flows behind the admin token when switched on.
 */
const SITE = path.join(import.meta.dirname, 'fixtures', 'notify-site.json');
let p: TestPlatform;
let rx: Awaited<ReturnType<typeof startReceiver>>;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function until<T>(f: () => Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  rx = await startReceiver();
  p = await startTestPlatform({ SITE_FILE: SITE, NOTIFY_FLOWS: true, NODE_RED_EDITOR: true, SMS_GATEWAY_URL: rx.urls.sms });
}, 60_000);
afterAll(async () => {
  await p?.dispose();
  await rx?.close();
});

describe('the flows under the platform', () => {
  it('a flows process that dies is restarted; what happened meanwhile is delivered from its session', async () => {
    const before = (await p.api('GET', '/api/v1/health')).body.notifications;
    expect(before).toMatchObject({ state: 'running', subscribed: true, restarts: 0, editor: true });
    process.kill(before.pid, 'SIGKILL');
    const down = await until(async () => {
      const h = (await p.api('GET', '/api/v1/health')).body;
      return !h.notifications.subscribed && h;
    }, 5000, 'health to see the flows gone');
    expect(down.status).toBe('degraded');
    expect(down.problems.join(' ')).toContain('notification flows');
    // While they are down, a resident files 一键报修: their receipt waits on the broker.
    const tokens = (await import(path.join(p.dataDir, 'user-tokens.json'), { with: { type: 'json' } })).default.users as { id: string; token: string }[];
    const filed = await p.api('POST', '/api/v1/tickets', { category: 'plumbing', description: '卫生间漏水', buildingId: 'b-l1' }, tokens.find((u) => u.id === 'res-1')!.token);
    expect(filed.status).toBe(201);
    const back = await until(async () => {
      const n = (await p.api('GET', '/api/v1/health')).body.notifications;
      return n.subscribed && n;
    }, 15_000, 'the flows to come back');
    expect(back.restarts).toBe(1);
    expect(back.pid).not.toBe(before.pid);
    const sms = await rx.waitFor((r) => r.body?.to === '13900000001' && r.body.itemIds?.includes(filed.body.id), 10_000, 'the receipt queued while the flows were down');
    expect(sms.text).toContain('已收到您的报修');
    expect((await p.api('GET', '/api/v1/health')).body.status).toBe('ok');
  }, 40_000);

  it('the editor is at /flows: Node-RED asks for the admin token, and its websocket passes through', async () => {
    const base = `http://127.0.0.1:${p.ports.http}`;
    const page = await fetch(`${base}/flows/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Node-RED');
    // Without signing in, the runtime's API refuses.
    expect((await fetch(`${base}/flows/flows`)).status).toBe(401);
    const login = (password: string) => fetch(`${base}/flows/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: 'node-red-editor', grant_type: 'password', scope: '*', username: 'admin', password }) });
    expect((await login('not-the-token')).status).toBe(403);
    const ok = await login(ADMIN_TOKEN);
    expect(ok.status).toBe(200);
    const { access_token } = (await ok.json()) as { access_token: string };
    const flows = await fetch(`${base}/flows/flows`, { headers: { authorization: `Bearer ${access_token}`, 'Node-RED-API-Version': 'v2' } });
    expect(flows.status).toBe(200);
    const body = (await flows.json()) as { flows: { id: string }[] };
    expect(body.flows.map((n) => n.id)).toContain('audience');
    // The editor's live connection.
    const ws = new WebSocket(`ws://127.0.0.1:${p.ports.http}/flows/comms`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.close();
    // What the editor holds exports back into the repo's form, byte for byte when nothing changed.
    const file = path.join(p.dataDir, 'exported.json');
    expect(await exportFlows({ url: `${base}/flows`, username: 'admin', password: ADMIN_TOKEN, file })).toBe(body.flows.length);
    expect(readFileSync(file, 'utf8')).toBe(readFileSync(path.join(import.meta.dirname, '..', 'flows', 'flows.json'), 'utf8'));
    await expect(exportFlows({ url: `${base}/flows`, username: 'admin', password: 'wrong', file })).rejects.toThrow('403');
  });
});

describe('the flows end with the platform', () => {
  it('kill -9 of `npm start` leaves no Node-RED behind', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-flows-'));
    const run = await startPlatformProcess({ DATA_DIR: dir, SITE_FILE: SITE, PLATFORM_ADMIN_TOKEN: ADMIN_TOKEN });
    try {
      const health = await (await fetch(`http://127.0.0.1:${run.ports.http}/api/v1/health`)).json();
      expect(health.notifications).toMatchObject({ state: 'running', subscribed: true });
      const pid = health.notifications.pid as number;
      expect(alive(pid)).toBe(true);
      run.proc.kill('SIGKILL');
      await run.exited;
      await until(async () => !alive(pid), 5000, 'the orphaned flows to exit');
    } finally {
      await run.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
