import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

/**
 * The console's sign-in (issue 17, item 6): an API token once, for an HttpOnly, SameSite=Strict
 * session cookie that the browser's EventSource carries to the live event stream.
 */
let p: TestPlatform;
let base: string;
let gw: { id: string; token: string };

beforeAll(async () => {
  p = await startTestPlatform();
  base = `http://127.0.0.1:${p.ports.http}`;
  const grids = (await p.db.query<{ id: string }>(`SELECT id FROM org_units WHERE kind = 'grid' ORDER BY id LIMIT 1`)).rows;
  const r = await p.api('POST', '/api/v1/users', { id: 'gw-session', name: '网格员会话', role: 'grid_worker', gridIds: [grids[0]!.id] });
  gw = { id: r.body.id, token: r.body.token };
}, 60_000);
afterAll(async () => p?.dispose());

const signIn = async (token: string) => fetch(`${base}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
const sessionOf = (res: Response) => /sps_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
const withCookie = (id: string, init: RequestInit = {}) => ({ ...init, headers: { ...(init.headers as Record<string, string>), cookie: `sps_session=${id}` } });

describe('console sessions', () => {
  it('a token signs in once for an HttpOnly, SameSite=Strict cookie; the cookie is the sign-in from then on', async () => {
    const res = await signIn(gw.token);
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ id: 'gw-session', role: 'grid_worker', name: '网格员会话' });
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\//);
    const id = sessionOf(res)!;
    expect(id).not.toContain(gw.token);
    const me = await fetch(`${base}/api/v1/me`, withCookie(id));
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id: 'gw-session' });
    // The session's reach is the person's: no admin route.
    expect((await fetch(`${base}/api/v1/users`, withCookie(id))).status).toBe(403);
    // Only the session's digest is stored.
    const stored = (await p.db.query<{ id_sha256: string }>('SELECT id_sha256 FROM sessions')).rows.map((r) => r.id_sha256);
    expect(stored.some((x) => x.includes(id))).toBe(false);
  });

  it('the live event stream works with the cookie alone, as a browser\'s EventSource sends it', async () => {
    const id = sessionOf(await signIn(ADMIN_TOKEN))!;
    const first = await new Promise<{ status: number; type: string; chunk: string }>((resolve, reject) => {
      const req = http.get(`${base}/api/v1/events`, { headers: { cookie: `sps_session=${id}`, accept: 'text/event-stream' } }, (res) => {
        res.setEncoding('utf8');
        res.once('data', (chunk: string) => {
          resolve({ status: res.statusCode!, type: String(res.headers['content-type']), chunk });
          req.destroy();
        });
      });
      req.on('error', reject);
    });
    expect(first).toMatchObject({ status: 200, type: 'text/event-stream' });
    expect(first.chunk).toContain(': connected');
  });

  it('a wrong token is refused and counted; a rotated or revoked token ends its sessions; signing out ends one', async () => {
    expect((await signIn('not-a-token')).status).toBe(401);
    const id = sessionOf(await signIn(gw.token))!;
    expect((await fetch(`${base}/api/v1/me`, withCookie(id))).status).toBe(200);
    const rotated = await p.api('POST', `/api/v1/users/${gw.id}/token`);
    expect(rotated.status).toBe(200);
    expect((await fetch(`${base}/api/v1/me`, withCookie(id))).status).toBe(401);
    gw.token = rotated.body.token;
    const again = sessionOf(await signIn(gw.token))!;
    const out = await fetch(`${base}/api/v1/session`, withCookie(again, { method: 'DELETE' }));
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    expect((await fetch(`${base}/api/v1/me`, withCookie(again))).status).toBe(401);
    const last = sessionOf(await signIn(gw.token))!;
    expect((await p.api('POST', `/api/v1/users/${gw.id}/revoke`)).status).toBe(200);
    expect((await fetch(`${base}/api/v1/me`, withCookie(last))).status).toBe(401);
    await p.api('POST', `/api/v1/users/${gw.id}/token`).then((r) => (gw.token = r.body.token));
  });

  it('a change made with the cookie from another site\'s page is refused', async () => {
    const id = sessionOf(await signIn(gw.token))!;
    const put = (origin?: string) => fetch(`${base}/api/v1/me/contacts`, withCookie(id, { method: 'PUT', headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) }, body: JSON.stringify({ phone: '13800000077' }) }));
    expect((await put('https://evil.example')).status).toBe(403);
    expect((await put(base)).status).toBe(200);
    expect((await put()).status).toBe(200);
  });
});
