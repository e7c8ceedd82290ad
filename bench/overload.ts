/**
 * `npm run bench:overload`: the platform (as `npm start`, embedded store) first at a sustainable
 * rate, then offered 1.5× that for 30 s, QoS 1, 1,000 publishers. Every second: readings stored,
 * ingest backlog, RSS. Reports the overload throughput against the peak, memory before and during,
 * how publishers were slowed (sends the generator held back because the broker stopped reading
 * their sockets) and subscriber deliveries shed, and whether alarms still become work items under
 * overload (breach → work item samples). Target (issue 6): ≥ 90% of peak, bounded memory.
 *
 * Options: --rate R (sustainable msg/s; default: what the latest `npm run bench:pipeline` sustained into
 * the embedded store, rounded to thousands, else 20,000), --seconds S (overload window, 30).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startPlatformProcess } from '../test/helpers/process.ts';
import { brokerRun, type BrokerRun } from './broker-runs.ts';
import { workItemProbe } from './probe.ts';
import { percentile, printTable, RESULTS_DIR, writeReport } from './report.ts';
import { rssMb } from './threads.ts';
import { benchSite, BENCH_ADMIN_TOKEN } from './site.ts';
import { health } from './platform-api.ts';
import { sinkHighWater } from '../ingest/ingest.ts';
import { EMBEDDED_MAX_BATCH } from '../ingest/sink.ts';

const { values } = parseArgs({ options: { rate: { type: 'string' }, seconds: { type: 'string', default: '30' } } });
/** The sustainable rate: given, or what the latest pipeline run sustained into the embedded store, or the 20,000 target. */
function sustainable(): { rate: number; from: string } {
  if (values.rate) return { rate: Number(values.rate), from: '--rate' };
  try {
    const last = JSON.parse(readFileSync(path.join(RESULTS_DIR, 'pipeline.json'), 'utf8')) as { at: string; runs: { sink: string; sustained: number; lost: number }[] };
    const run = last.runs.find((r) => r.sink === 'embedded store' && r.lost === 0);
    if (run) return { rate: Math.round(run.sustained / 1000) * 1000, from: `the pipeline run of ${last.at.slice(0, 16)}` };
  } catch {
    // no pipeline result yet
  }
  return { rate: 20_000, from: 'the pipeline target (no pipeline result yet)' };
}
const { rate: RATE, from: RATE_FROM } = sustainable();
const SECONDS = Number(values.seconds);
const PUBLISHERS = 1000;
const PROBES = 30;
const NOFILE = 10_000;

const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-bench-overload-'));
const p = await startPlatformProcess({ DATA_DIR: dir, SITE_FILE: benchSite(dir, PUBLISHERS + PROBES), PLATFORM_ADMIN_TOKEN: BENCH_ADMIN_TOKEN }, [], 'main.ts', NOFILE);
const httpUrl = `http://127.0.0.1:${p.ports.http}`;
const url = `mqtt://127.0.0.1:${p.ports.mqtt}`;
const credentials = path.join(dir, 'device-credentials.json');
const creds = JSON.parse(readFileSync(credentials, 'utf8')).devices as { id: string; secret: string }[];

interface Second { phase: string; stored: number; backlog: number; rssMb: number }
const seconds: Second[] = [];
let phase = 'idle';
let last = await health(p);
const sampler = setInterval(async () => {
  const h = await health(p).catch(() => undefined);
  if (!h) return;
  seconds.push({ phase, stored: h.ingest.stored - last.ingest.stored, backlog: Object.values(h.ingest.pending).reduce((a, b) => a + b, 0), rssMb: rssMb(p.proc.pid!) });
  last = h;
}, 1000);

const args = ['--credentials', credentials, '--subscriber', 'none', '--client', 'wire'];
let sustained: BrokerRun;
let overload: BrokerRun;
const probeLat: number[] = [];
let probeMissed = 0;
let shed = 0;
try {
  const probe = await workItemProbe({ url, httpUrl, adminToken: BENCH_ADMIN_TOKEN, devices: creds.slice(PUBLISHERS) });
  sustained = await brokerRun(p.proc.pid!, url, { seconds: 20, publishers: PUBLISHERS, qos: 1, rate: RATE, nofile: NOFILE }, args, (ph) => (phase = ph === 'measuring' ? 'sustainable' : 'idle'));
  const shed0 = (await health(p)).broker.deliveriesShed;
  let probing = true;
  const probes = (async () => {
    while (probing) {
      if (phase !== 'overload') {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const ms = await probe.sample();
      if (ms === null) probeMissed++;
      else probeLat.push(ms);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  overload = await brokerRun(p.proc.pid!, url, { seconds: SECONDS, publishers: PUBLISHERS, qos: 1, rate: Math.round(RATE * 1.5), nofile: NOFILE }, args, (ph) => (phase = ph === 'measuring' ? 'overload' : 'idle'));
  probing = false;
  await probes;
  shed = (await health(p)).broker.deliveriesShed - shed0;
  await probe.close();
} finally {
  clearInterval(sampler);
  await p.stop();
  rmSync(dir, { recursive: true, force: true });
}

const of = (ph: string) => seconds.filter((s) => s.phase === ph);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
// Peak: the best 10-second average of stored readings while under load (not the store draining its
// backlog after the generator stopped, when it has the machine to itself). Ten seconds, because a
// second's count moves in whole batches of up to 2,000.
const PEAK_WINDOW = 10;
const rates = seconds.filter((s) => s.phase !== 'idle').map((s) => s.stored);
let peak = 0;
for (let i = 0; i + PEAK_WINDOW <= rates.length; i++) peak = Math.max(peak, mean(rates.slice(i, i + PEAK_WINDOW)));
const over = of('overload');
// The first seconds of each phase include the generator's ramp; judge the steady part.
const overRate = mean(over.slice(2).map((s) => s.stored));
const minOver = Math.min(...over.slice(2).map((s) => s.stored));
const rssSustained = Math.max(...of('sustainable').map((s) => s.rssMb));
const rssOver = Math.max(...over.map((s) => s.rssMb));
const rssLast = over.slice(-5).map((s) => s.rssMb);
const backlogMax = Math.max(...over.map((s) => s.backlog));
printTable(`overload: ${Math.round(RATE * 1.5).toLocaleString()} msg/s offered (1.5 × ${RATE.toLocaleString()}) for ${SECONDS} s, QoS 1, ${PUBLISHERS} publishers`, [
  ['sustainable rate', `${RATE.toLocaleString()} msg/s, from ${RATE_FROM}`],
  ['sustainable phase: stored', `${Math.round(mean(of('sustainable').slice(2).map((s) => s.stored))).toLocaleString()} msg/s (offered ${Math.round(sustained!.offered).toLocaleString()})`],
  ['peak (best 10 s under load)', `${Math.round(peak).toLocaleString()} msg/s`],
  ['overload: stored mean / lowest second', `${Math.round(overRate).toLocaleString()} / ${Math.round(minOver).toLocaleString()} msg/s → ${(overRate / peak).toFixed(2)}× of peak (target ≥ 0.90)`],
  ['publishers slowed', `acknowledged ${Math.round(overload!.ackedTotal / overload!.seconds).toLocaleString()} msg/s of ${Math.round(overload!.sent).toLocaleString()} sent; ${(overload!.sentTotal - overload!.ackedTotal).toLocaleString()} still waiting in their sockets at the end (TCP backpressure), ${overload!.skipped.toLocaleString()} not sent at all`],
  ['subscriber deliveries shed', String(shed)],
  ['ingest backlog max', `${backlogMax.toLocaleString()} readings (high-water mark ${sinkHighWater(EMBEDDED_MAX_BATCH).toLocaleString()} for the embedded store)`],
  ['RSS sustainable → overload max → last 5 s', `${Math.round(rssSustained)} → ${Math.round(rssOver)} → ${rssLast.map(Math.round).join(', ')} MB`],
  ['breach → work item under overload', `${probeLat.length} of ${probeLat.length + probeMissed} created; p50 ${percentile(probeLat, 50).toFixed(1)} / p99 ${percentile(probeLat, 99).toFixed(1)} ms`],
]);
writeReport('overload', `Overload: 1.5× the sustainable rate (${RATE.toLocaleString()} msg/s, from ${RATE_FROM}) for ${SECONDS} s (QoS 1, ${PUBLISHERS} publishers, embedded store)`, { rate: RATE, rateFrom: RATE_FROM, seconds: SECONDS, peak, overRate, minOver, rssSustained, rssOver, backlogMax, shed, probeLat, probeMissed, perSecond: seconds, sustained: sustained!, overload: overload! },
  ['| offered msg/s | peak msg/s | overload mean / lowest s | of peak | RSS sustainable → overload max MB | backlog max | unacknowledged at end (slowed) | alarms → work items (p99 ms) |', '| --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${Math.round(overload!.offered)} | ${Math.round(peak)} | ${Math.round(overRate)} / ${Math.round(minOver)} | ${(overRate / peak).toFixed(2)}× | ${Math.round(rssSustained)} → ${Math.round(rssOver)} | ${backlogMax} | ${overload!.sentTotal - overload!.ackedTotal} | ${probeLat.length} of ${probeLat.length + probeMissed} (${percentile(probeLat, 99).toFixed(1)}) |`].join('\n'));
process.exit(0);
