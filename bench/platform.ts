/**
 * `npm run bench:platform`: the whole platform as `npm start` starts it (main.ts on its embedded
 * defaults: authentication, ACLs, validation, the journal, the embedded store, rules, the API) against
 * stock Mosquitto (routing only) in the same run, driven by the same closed-loop load generator
 * (bench/loadgen.ts `--window`): at most WINDOW messages in flight, ~83-byte valid smoke-detector
 * telemetry, one wildcard subscriber (a service account on ours) in a process of its own. For 500
 * and 1,000 publishers at QoS 1 and 0: delivered msg/s, the ratio ours/Mosquitto, server CPU µs per
 * delivered message (all threads), peak RSS, and what ours stored meanwhile. A fresh server (and
 * a fresh DATA_DIR) for every run; a run where the generator or the subscriber used more than 90 %
 * of a core measures the generator and is not reported.
 *
 * Options: --seconds S (10), --publishers 500,1000, --qos 1,0, --window N (1000), --repeat K (1:
 * the median of K runs of each, Mosquitto and ours alternating), --from FILE (no runs: the report
 * again from a platform.json an earlier run wrote).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startPlatformProcess } from '../test/helpers/process.ts';
import { alive, brokerRun, startMosquitto, type BrokerRun } from './broker-runs.ts';
import { printTable, writeReport } from './report.ts';
import { benchSite, BENCH_ADMIN_TOKEN } from './site.ts';
import { rssMb, threadCpu } from './threads.ts';
import { createServiceAccount, health } from './platform-api.ts';
import type { Health } from '../api/routes/health.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, publishers: { type: 'string', default: '500,1000' }, qos: { type: 'string', default: '1,0' }, window: { type: 'string', default: '1000' }, repeat: { type: 'string', default: '1' }, from: { type: 'string' } } });
/** With --from, an earlier run's figures, reported again instead of measured. */
const earlier = values.from ? (JSON.parse(readFileSync(values.from, 'utf8')) as { seconds: number; window: number; repeat: number; results: Row[] }) : undefined;
const SECONDS = earlier?.seconds ?? Number(values.seconds);
const PUBLISHERS = values.publishers!.split(',').map(Number);
const QOS = values.qos!.split(',').map(Number) as (0 | 1)[];
const WINDOW = earlier?.window ?? Number(values.window);
const REPEAT = earlier?.repeat ?? Number(values.repeat);
const NOFILE = Math.max(...PUBLISHERS) * 2 + 1000;

/** Ours: CPU µs per delivered message on the broker's thread, the busiest other (the store's), and all the rest. */
type ThreadSplit = { main: number; store: number; rest: number };
type Run = BrokerRun & { peakRssMb: number; childRssMb?: number; stored?: number; storedPerS?: number; degraded?: string[]; threads?: ThreadSplit };

/** Samples a process's RSS every 200 ms while `fn` runs: the highest, and its children's (Node-RED's) highest sum. */
async function peakRss<T>(pid: number, fn: () => Promise<T>): Promise<[T, number, number]> {
  let peak = 0;
  let children = 0;
  const sample = () => {
    if (!alive(pid)) return;
    peak = Math.max(peak, rssMb(pid));
    children = Math.max(children, childrenOf(pid).reduce((sum, c) => sum + (alive(c) ? rssMb(c) : 0), 0));
  };
  const timer = setInterval(sample, 200);
  try {
    return [await fn(), (sample(), peak), children];
  } finally {
    clearInterval(timer);
  }
}

/** A process's children (all its threads'), from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

async function mosquittoRun(qos: 0 | 1, publishers: number): Promise<Run> {
  const m = await startMosquitto(NOFILE);
  try {
    const [r, peak] = await peakRss(m.proc.pid!, () => brokerRun(m.proc.pid!, m.url, { seconds: SECONDS, publishers, qos, rate: 0, nofile: NOFILE, window: WINDOW }, ['--client', 'wire', '--body', 'short']));
    return { ...r, peakRssMb: peak };
  } finally {
    await m.stop();
  }
}

async function platformRun(qos: 0 | 1, publishers: number): Promise<Run> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-bench-platform-'));
  const p = await startPlatformProcess({ DATA_DIR: dir, SITE_FILE: benchSite(dir, Math.max(...PUBLISHERS)), PLATFORM_ADMIN_TOKEN: BENCH_ADMIN_TOKEN }, [], 'main.ts', NOFILE);
  try {
    const sub = await createServiceAccount(p, BENCH_ADMIN_TOKEN, 'bench subscriber', ['v1/#']);
    let h0: Health | undefined;
    let h1: Health | undefined;
    let t0: Map<string, number> | undefined;
    let t1: Map<string, number> | undefined;
    const [r, peak, childPeak] = await peakRss(p.proc.pid!, () =>
      brokerRun(p.proc.pid!, `mqtt://127.0.0.1:${p.ports.mqtt}`, { seconds: SECONDS, publishers, qos, rate: 0, nofile: NOFILE, window: WINDOW }, ['--client', 'wire', '--body', 'short', '--credentials', path.join(dir, 'device-credentials.json'), '--subscriber', `${sub.username}:${sub.secret}`], async (phase) => {
        if (phase === 'measuring') [t0, h0] = [threadCpu(p.proc.pid!), await health(p)];
        if (phase === 'sent') [t1, h1] = [threadCpu(p.proc.pid!), await health(p)];
      }),
    );
    if (!alive(p.proc.pid!)) return { ...r, peakRssMb: peak };
    const end = await health(p);
    const stored = h0 && h1 ? h1.ingest.stored - h0.ingest.stored : undefined;
    return { ...r, peakRssMb: peak, childRssMb: childPeak, stored, storedPerS: stored !== undefined ? stored / r.seconds : undefined, degraded: end.status === 'ok' ? undefined : end.problems, threads: t0 && t1 ? split(p.proc.pid!, t0, t1, r.delivered * r.seconds) : undefined };
  } finally {
    if (alive(p.proc.pid!)) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Threads' CPU over the measured window, per delivered message: the main thread is the one whose id is the process's. */
function split(pid: number, before: Map<string, number>, after: Map<string, number>, messages: number): ThreadSplit {
  const used = [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const);
  const main = used.find(([k]) => k.endsWith(`(${pid})`))?.[1] ?? 0;
  const others = used.filter(([k]) => !k.endsWith(`(${pid})`)).map(([, v]) => v).sort((a, b) => b - a);
  const per = (s: number) => (s * 1e6) / Math.max(1, messages);
  return { main: per(main), store: per(others[0] ?? 0), rest: per(others.slice(1).reduce((a, b) => a + b, 0)) };
}

const median = (runs: Run[]): Run => {
  const ok = runs.filter((r) => !r.collapsed && !r.saturated).sort((a, b) => a.delivered - b.delivered);
  return ok.length ? ok[Math.floor((ok.length - 1) / 2)]! : runs[0]!;
};

type Row = { qos: 0 | 1; publishers: number; mosquitto: Run[]; ours: Run[] };
const results: Row[] = earlier?.results ?? [];
for (const qos of earlier ? [] : QOS) {
  for (const publishers of PUBLISHERS) {
    const row = { qos, publishers, mosquitto: [] as Run[], ours: [] as Run[] };
    for (let k = 0; k < REPEAT; k++) {
      row.mosquitto.push(await mosquittoRun(qos, publishers));
      row.ours.push(await platformRun(qos, publishers));
    }
    results.push(row);
  }
}

const f0 = (v: number | undefined) => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
/** The lowest and highest of several runs, beside their median. */
const spread = (runs: Run[]) => {
  const d = runs.filter((r) => !r.collapsed && !r.saturated).map((r) => r.delivered);
  return d.length > 1 ? ` (${f0(Math.min(...d))}–${f0(Math.max(...d))})` : '';
};
const f1 = (v: number | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(1) : '–');
const rows: [string, string][] = [];
const md = [
  '| publishers | QoS | Mosquitto msg/s | ours msg/s | ratio (target) | CPU µs/msg (M · ours) | CPU ratio (target) | ours by thread µs/msg (broker · store · rest) | peak RSS MB (M · ours, + Node-RED) | ours stored msg/s | generator · subscriber CPU % (M · ours) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const row of results) {
  const m = median(row.mosquitto);
  const o = median(row.ours);
  const why = [m, o].map((r) => r.collapsed ?? (r.saturated ? `not reported: ${r.saturated}` : undefined)).filter(Boolean);
  const target = row.qos === 1 ? 0.7 : 0.5;
  const ratio = o.delivered / m.delivered;
  const cpuRatio = o.serverCpuUsPerMsg / m.serverCpuUsPerMsg;
  const cpuTarget = row.qos === 1 ? ' (≤ 2×)' : '';
  const gen = `${f0(m.generatorCpuPct)} · ${f0(m.subscriberCpuPct)} — ${f0(o.generatorCpuPct)} · ${f0(o.subscriberCpuPct)}`;
  if (why.length) {
    rows.push([`${row.publishers} publishers, QoS ${row.qos}`, why.join('; ')]);
    md.push(`| ${row.publishers} | ${row.qos} | ${f0(m.delivered)} | ${f0(o.delivered)} | ${why.join('; ')} | – | – | – | – | – | ${gen} |`);
    continue;
  }
  const degraded = o.degraded ? ` (health: ${o.degraded.join('; ')})` : '';
  rows.push([`${row.publishers} publishers, QoS ${row.qos}`, `Mosquitto ${f0(m.delivered)} · ours ${f0(o.delivered)} msg/s → ${ratio.toFixed(2)}× (target ≥ ${target}×); CPU ${f1(m.serverCpuUsPerMsg)} · ${f1(o.serverCpuUsPerMsg)} µs/msg (${cpuRatio.toFixed(1)}×); RSS ${f0(m.peakRssMb)} · ${f0(o.peakRssMb)}${o.childRssMb ? ` + ${f0(o.childRssMb)} (Node-RED)` : ''} MB; stored ${f0(o.storedPerS)}/s${degraded}`]);
  md.push(`| ${row.publishers} | ${row.qos} | ${f0(m.delivered)}${spread(row.mosquitto)} | ${f0(o.delivered)}${spread(row.ours)} | ${ratio.toFixed(2)}× (≥ ${target}×) | ${f1(m.serverCpuUsPerMsg)} · ${f1(o.serverCpuUsPerMsg)} | ${cpuRatio.toFixed(1)}×${cpuTarget} | ${o.threads ? `${f1(o.threads.main)} · ${f1(o.threads.store)} · ${f1(o.threads.rest)}` : '–'} | ${f0(m.peakRssMb)} · ${f0(o.peakRssMb)}${o.childRssMb ? ` + ${f0(o.childRssMb)}` : ''} | ${f0(o.storedPerS)}${degraded} | ${gen} |`);
}
const title = `Platform: \`npm start\` (authentication, ACLs, validation, journal, embedded store, rules) vs Mosquitto, closed loop (≤ ${WINDOW} in flight), ${SECONDS} s per run`;
printTable(title, rows);
writeReport(
  'platform',
  title,
  { seconds: SECONDS, window: WINDOW, repeat: REPEAT, results },
  `${REPEAT > 1 ? `Median of ${REPEAT} runs each (lowest–highest in brackets). ` : ''}Delivered to one wildcard subscriber (ours: a service account), ~83-byte smoke-detector telemetry, durability on (a QoS 1 PUBACK after the journal's group commit). CPU is the server process's, all threads, per delivered message.\n\n${md.join('\n')}`,
);
process.exit(0);
