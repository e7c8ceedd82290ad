import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FLOWS_DIR } from './flows-process.ts';

/**
 * `npm run flows:export`: the flows as a running Node-RED editor holds them (the platform's at
 * /flows, or a stock Node-RED's), written back into flows/flows.json pretty-printed as Node-RED
 * writes it, so the change is a readable diff. Node-RED's API gives no credentials: none reach the repo.
 */
export async function exportFlows(o: { url: string; username: string; password: string; file: string }): Promise<number> {
  const base = o.url.replace(/\/$/, '');
  const auth = await fetch(`${base}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope: '*', username: o.username, password: o.password }),
  });
  // A Node-RED without adminAuth answers 404 here and needs no token.
  const token = auth.ok ? ((await auth.json()) as { access_token: string }).access_token : undefined;
  if (!auth.ok && auth.status !== 404) throw new Error(`${base}/auth/token: ${auth.status} (user ${o.username}: the platform's admin token is the password)`);
  const res = await fetch(`${base}/flows`, { headers: { 'Node-RED-API-Version': 'v1', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  if (!res.ok) throw new Error(`${base}/flows: ${res.status}`);
  const flows = (await res.json()) as unknown[];
  writeFileSync(o.file, JSON.stringify(flows, null, 4) + '\n');
  return flows.length;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const env = process.env;
  const file = process.argv[2] ?? path.join(FLOWS_DIR, 'flows.json');
  const url = env.NODE_RED_URL ?? `http://127.0.0.1:${env.HTTP_PORT ?? 8080}/flows`;
  exportFlows({ url, username: env.NODE_RED_USERNAME ?? 'admin', password: env.PLATFORM_ADMIN_TOKEN ?? '', file }).then(
    (n) => console.log(`${n} nodes from ${url} written to ${file}`),
    (err: Error) => {
      console.error(`flows:export: ${err.message}`);
      process.exit(1);
    },
  );
}
