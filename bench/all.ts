/**
 * `npm run bench`: every part, one after another on this machine, each in its own processes:
 * platform (`npm start` vs Mosquitto), broker (ours alone vs Mosquitto), pipeline, cluster, scale, overload, alarm latency. Each part writes
 * bench/results/<part>.{json,md}; bench/results/report.md gathers the latest of all (the README
 * shows it). Parts can be run alone: `npm run bench:<part>`.
 */
import { spawnSync } from 'node:child_process';
import { ROOT } from '../test/helpers/process.ts';

const parts = ['platform', 'broker', 'pipeline', 'cluster', 'scale', 'overload', 'latency'];
const failed: string[] = [];
for (const part of parts) {
  console.log(`\n=== ${part} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${part}.ts`], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) failed.push(part);
}
console.log(failed.length ? `\nfailed: ${failed.join(', ')}` : '\nreport: bench/results/report.md');
process.exit(failed.length ? 1 : 0);
