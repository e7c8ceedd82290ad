/**
 * The two API calls the benchmarks make of a platform under test: its health (typed by the route's
 * own schema, so a renamed field fails the typecheck, not a run) and a service account.
 */
import type { Health } from '../api/routes/health.ts';

type Platform = { ports: { http: number } };
const base = (p: Platform) => `http://127.0.0.1:${p.ports.http}/api/v1`;

/** `GET /api/v1/health` (no sign-in needed). */
export async function health(p: Platform): Promise<Health> {
  return (await (await fetch(`${base(p)}/health`)).json()) as Health;
}

/** A service account made with the admin token: its username and secret, to connect over MQTT. */
export async function createServiceAccount(p: Platform, adminToken: string, name: string, subscribe: string[]): Promise<{ username: string; secret: string }> {
  const res = await fetch(`${base(p)}/service-accounts`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, subscribe }) });
  if (res.status !== 201) throw new Error(`creating service account "${name}": ${res.status} ${await res.text()}`);
  return (await res.json()) as { username: string; secret: string };
}
