import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** A site file with at least `devices` smoke detectors, at most 500 per building (site files allow 1,000), for the benchmarks. */
export function benchSite(dir: string, devices: number): string {
  const file = path.join(dir, 'bench-site.json');
  const buildings = Math.max(10, Math.ceil(devices / 500));
  const perBuilding = Math.ceil(devices / buildings);
  const building = (i: number) => ({ id: `bb${i}`, name: `Bench ${i}`, devices: [{ type: 'smoke-detector', count: perBuilding }] });
  writeFileSync(file, JSON.stringify({ street: { id: 'st-bench', name: 'Bench', communities: [{ id: 'c-bench', name: 'Bench', grids: [{ id: 'g-bench', name: 'Bench', microGrids: [{ id: 'm-bench', name: 'Bench', buildings: Array.from({ length: buildings }, (_, i) => building(i)) }] }] }] } }));
  return file;
}

/** The admin token every benchmark's platform runs with (strong enough for the start-up check). */
export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789';
