/**
 * `npm run bench:cluster`: the pipeline benchmark (QoS 1 publishers → authentication, validation,
 * store, rules; every acknowledged message must be stored) against one node and against two nodes
 * sharing one PostgreSQL and one Redis, same publishers, same offered rate, same run. In the
 * two-node run half the publishers connect to each node, as a TCP balancer would spread them.
 * On a 2-core machine the second node shares the cores with the first, PostgreSQL, Redis and the
 * generators, so it cannot add throughput here: the ratio says what the cluster's shared pieces
 * cost, and docs/operations.md extrapolates per node.
 *
 * Options: --seconds S (30), --publishers N (500), --rate R (offered msg/s, 40000: above what one node sustains here).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startPostgres, startRedis } from '../test/helpers/services.ts';
import { startPlatformProcess, type PlatformProcess } from '../test/helpers/process.ts';
import { alive, brokerRun } from './broker-runs.ts';
import { printTable, writeReport } from './report.ts';
import { cpuSeconds, rssMb } from './threads.ts';
import { benchSite, BENCH_ADMIN_TOKEN } from './site.ts';
import { health } from './platform-api.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '30' }, publishers: { type: 'string', default: '500' }, rate: { type: 'string', default: '40000' } } });
const SECONDS = Number(values.seconds);
const PUBLISHERS = Number(values.publishers);
const RATE = Number(values.rate);
const NOFILE = PUBLISHERS * 2 + 1000;

const storedOf = async (nodes: PlatformProcess[]) => (await Promise.all(nodes.map(health))).reduce((n, h) => n + h.ingest.stored, 0);

interface ClusterRun { nodes: number; seconds: number; offered: number; acked: number; stored: number; lost: number; sustained: number; cpuUsPerMsg: number; rssMb: number[]; generatorCpuPct: number }

async function cluster(count: number, database: string, redisUrl: string): Promise<ClusterRun> {
  const dirs = Array.from({ length: count }, () => mkdtempSync(path.join(os.tmpdir(), 'sps-bench-cluster-')));
  const nodes: PlatformProcess[] = [];
  try {
    const site = benchSite(dirs[0]!, PUBLISHERS);
    for (const [i, dir] of dirs.entries()) {
      const env = { DATA_DIR: dir, SITE_FILE: site, PLATFORM_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, DATABASE_URL: database, REDIS_URL: redisUrl, NODE_ID: `bench-${i + 1}`, NOTIFY_FLOWS: 'false' };
      // One at a time: the first seeds the empty database.
      nodes.push(await startPlatformProcess(env, [], 'main.ts', NOFILE));
    }
    // Each node's generator gets its own share of the devices (a device connects to one node).
    const all = JSON.parse(readFileSync(path.join(dirs[0]!, 'device-credentials.json'), 'utf8')) as { devices: unknown[] };
    const share = Math.floor(PUBLISHERS / count);
    const files = nodes.map((_, i) => {
      const f = path.join(dirs[0]!, `credentials-${i}.json`);
      writeFileSync(f, JSON.stringify({ ...all, devices: all.devices.slice(i * share, (i + 1) * share) }));
      return f;
    });
    const s0 = await storedOf(nodes);
    let window: { stored: number; at: number; cpu: number } | undefined;
    let sent: { stored: number; at: number; cpu: number } | undefined;
    const mark = async () => ({ stored: await storedOf(nodes), at: performance.now(), cpu: nodes.reduce((n, p) => n + cpuSeconds(p.proc.pid!), 0) });
    const runs = await Promise.all(
      nodes.map((p, i) =>
        brokerRun(p.proc.pid!, `mqtt://127.0.0.1:${p.ports.mqtt}`, { seconds: SECONDS, publishers: share, qos: 1, rate: Math.round(RATE / count), nofile: NOFILE }, ['--credentials', files[i]!, '--subscriber', 'none', '--client', 'wire'], async (phase) => {
          // The first generator's phases mark the window for all (they start and stop together).
          if (i !== 0) return;
          if (phase === 'measuring') window = await mark();
          if (phase === 'sent') sent = await mark();
        }),
      ),
    );
    const acked = runs.reduce((n, r) => n + r.ackedTotal, 0);
    let stored = (await storedOf(nodes)) - s0;
    for (let i = 0; i < 120 && stored < acked; i++) {
      await new Promise((r) => setTimeout(r, 500));
      stored = (await storedOf(nodes)) - s0;
    }
    const w0 = window!;
    const w1 = sent!;
    const perSecond = (w1.stored - w0.stored) / ((w1.at - w0.at) / 1000);
    return {
      nodes: count,
      seconds: runs[0]!.seconds,
      offered: runs.reduce((n, r) => n + r.offered, 0),
      acked,
      stored,
      lost: Math.max(0, acked - stored),
      sustained: perSecond,
      cpuUsPerMsg: ((w1.cpu - w0.cpu) * 1e6) / Math.max(1, w1.stored - w0.stored),
      rssMb: nodes.map((p) => Math.round(rssMb(p.proc.pid!))),
      generatorCpuPct: runs.reduce((n, r) => n + r.generatorCpuPct, 0),
    };
  } finally {
    for (const p of nodes) if (alive(p.proc.pid!)) await p.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

const postgres = await startPostgres();
const redis = await startRedis();
let runs: ClusterRun[];
try {
  runs = [await cluster(1, await postgres.database(), redis.url), await cluster(2, await postgres.database(), redis.url)];
} finally {
  await redis.dispose();
  await postgres.dispose();
}
const [one, two] = runs;
const ratio = two!.sustained / one!.sustained;
const md = ['| nodes | sustained msg/s | lost | acknowledged | offered msg/s | nodes\' CPU µs/msg | RSS MB per node | generators\' CPU % |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
for (const r of runs) md.push(`| ${r.nodes} | ${Math.round(r.sustained)} | ${r.lost} | ${r.acked} | ${Math.round(r.offered)} | ${r.cpuUsPerMsg.toFixed(1)} | ${r.rssMb.join(' · ')} | ${r.generatorCpuPct.toFixed(0)} |`);
printTable(`cluster: QoS 1, ${PUBLISHERS} publishers, ${SECONDS} s, offered ${RATE.toLocaleString()} msg/s, PostgreSQL + Redis`, runs.map((r) => [`${r.nodes} node(s)`, `${Math.round(r.sustained).toLocaleString()} msg/s sustained, ${r.lost} lost of ${r.acked.toLocaleString()}, ${r.cpuUsPerMsg.toFixed(1)} µs CPU/msg`]));
console.log(`two nodes / one node: ${ratio.toFixed(2)}×`);
writeReport('cluster', `Cluster: one node and two nodes on one PostgreSQL and one Redis, QoS 1, ${PUBLISHERS} publishers, ${SECONDS} s`, { publishers: PUBLISHERS, rate: RATE, runs, ratio }, `Same load, same run; in the two-node run half the publishers connect to each node. Two nodes / one node: **${ratio.toFixed(2)}×** sustained, CPU per message ${(two!.cpuUsPerMsg / one!.cpuUsPerMsg).toFixed(2)}× (the nodes' own CPU; PostgreSQL and Redis share the same 2 cores). See docs/operations.md for sizing per node.\n\n${md.join('\n')}`);
process.exit(0);
