import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../test/helpers/process.ts';

export { percentile } from '../core/reservoir.ts';

export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
/** The order of the parts in the assembled report. */
const PARTS = ['platform', 'broker', 'pipeline', 'cluster', 'scale', 'overload', 'latency', 'ingest', 'rules', 'store'];

/** What the figures were measured on. */
export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

/** Prints a two-column table under a title. */
export function printTable(title: string, rows: [string, string][]): void {
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log(title);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
  console.log();
}

/**
 * Writes one part's results (bench/results/<part>.json and .md), reassembles
 * bench/results/report.md from the latest result of every part, and puts it in the README between
 * its `bench-report` markers.
 */
export function writeReport(part: string, title: string, data: object, markdown: string): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const at = new Date().toISOString();
  writeFileSync(path.join(RESULTS_DIR, `${part}.json`), JSON.stringify({ at, machine: machine(), ...data }, null, 2) + '\n');
  writeFileSync(path.join(RESULTS_DIR, `${part}.md`), `### ${title}\n\n${at.slice(0, 16).replace('T', ' ')} UTC, ${machine()}. Reproduce: \`npm run bench:${part}\`.\n\n${markdown}\n`);
  assembleReport();
}

/** Rebuilds bench/results/report.md and the README's section from the latest result of every part. */
export function assembleReport(): void {
  const have = new Set(readdirSync(RESULTS_DIR));
  const sections = PARTS.filter((p) => have.has(`${p}.md`)).map((p) => readFileSync(path.join(RESULTS_DIR, `${p}.md`), 'utf8'));
  const report = `All parts: \`npm run bench\`. Loopback only, one machine, load generator in its own process.\n\n${sections.join('\n')}`;
  writeFileSync(path.join(RESULTS_DIR, 'report.md'), `## Benchmark report\n\n${report}`);
  const readme = path.join(ROOT, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const [open, close] = ['<!-- bench-report -->', '<!-- /bench-report -->'];
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a >= 0 && b > a) writeFileSync(readme, `${text.slice(0, a + open.length)}\n${report.replace(/^### /gm, '#### ')}\n${text.slice(b)}`);
}
