/**
 * `npm run bench:profile`: runs the platform (as `npm start`) under `node --cpu-prof`, drives it with
 * the load generator, and prints where the broker's thread spent its time (self time by function,
 * top 25). The .cpuprofile is kept for a flame graph (Chrome DevTools → Performance → Load profile,
 * or speedscope). Loopback only; stops by itself.
 *
 * Options: --seconds S (default 10), --publishers N (50), --qos 0|1 (1), --rate R (offered msg/s, 20000),
 * --embedded true|false (readings into the embedded store, true), --subscriber true|false (a wildcard
 * subscriber, true), --server platform|broker (`npm start`, or our broker alone: bench/broker-server.ts),
 * --client mqttjs|wire (the generator's publishers).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { ROOT, startPlatformProcess } from '../test/helpers/process.ts';
import { benchSite, BENCH_ADMIN_TOKEN } from './site.ts';
import { threadCpu, threadShares } from './threads.ts';
import { createServiceAccount, health } from './platform-api.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, publishers: { type: 'string', default: '50' }, qos: { type: 'string', default: '1' }, rate: { type: 'string', default: '20000' }, embedded: { type: 'string', default: 'true' }, subscriber: { type: 'string', default: 'true' }, server: { type: 'string', default: 'platform' }, client: { type: 'string', default: 'mqttjs' } } });

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number; children?: number[] }

const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-profile-'));
const profDir = path.join(dir, 'prof');
const platform = await startPlatformProcess(
  { DATA_DIR: dir, SITE_FILE: benchSite(dir, Number(values.publishers)), PLATFORM_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, READINGS_EMBEDDED: values.embedded!, BENCH_SUBSCRIBER: 'svc-bench:bench-subscriber-secret' },
  ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
  values.server === 'broker' ? 'bench/broker-server.ts' : 'main.ts',
  Number(values.publishers) * 2 + 1000,
);
try {
  const sub = values.server === 'broker'
    ? { username: 'svc-bench', secret: 'bench-subscriber-secret' }
    : await createServiceAccount(platform, BENCH_ADMIN_TOKEN, 'bench subscriber', ['v1/#']);
  const gen = spawn(process.execPath, ['--import', 'tsx', 'bench/loadgen.ts', '--url', `mqtt://127.0.0.1:${platform.ports.mqtt}`, '--publishers', values.publishers!, '--qos', values.qos!, '--rate', values.rate!, '--seconds', values.seconds!, '--credentials', path.join(dir, 'device-credentials.json'), '--subscriber', values.subscriber === 'true' ? `${sub.username}:${sub.secret}` : 'none', '--client', values.client!], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let t0 = new Map<string, number>();
  let at0 = 0;
  gen.stdout!.on('data', (d) => {
    out += d;
    if (at0 === 0 && out.includes('"measuring"')) [t0, at0] = [threadCpu(platform.proc.pid!), performance.now()];
  });
  await new Promise((r) => gen.once('exit', r));
  const shares = threadShares(t0, threadCpu(platform.proc.pid!), (performance.now() - at0) / 1000);
  console.log('platform threads, share of one core:', shares.map(([k, v]) => `${k} ${(v * 100).toFixed(0)}%`).join(', '));
  console.log(out.trim().split('\n').pop());
  if (values.server !== 'broker') {
    const h = await health(platform);
    console.log(JSON.stringify({ ingest: h.ingest, eventLoop: h.eventLoop }));
  }
} finally {
  await platform.stop('SIGINT');
}

const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error('no profile written');
const prof = JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as { nodes: Node[] };
const self = new Map<string, number>();
let total = 0;
for (const n of prof.nodes) {
  const f = n.callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(`file://${ROOT}/`, '')}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + n.hitCount);
  total += n.hitCount;
}
const kept = path.join(os.tmpdir(), `sps-platform-${Date.now()}.cpuprofile`);
writeFileSync(kept, readFileSync(path.join(profDir, file)));
console.log(`self time, top 25 of ${total} samples (profile kept at ${kept}):`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
rmSync(dir, { recursive: true, force: true });
process.exit(0);
