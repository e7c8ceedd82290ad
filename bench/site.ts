import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** A site file with at least `devices` smoke detectors over ten buildings, for the benchmarks. */
export function benchSite(dir: string, devices: number): string {
  const file = path.join(dir, 'bench-site.json');
  const building = (i: number) => ({ id: `bb${i}`, name: `Bench ${i}`, devices: [{ type: 'smoke-detector', count: Math.ceil(devices / 10) }] });
  writeFileSync(file, JSON.stringify({ street: { id: 'st-bench', name: 'Bench', communities: [{ id: 'c-bench', name: 'Bench', grids: [{ id: 'g-bench', name: 'Bench', microGrids: [{ id: 'm-bench', name: 'Bench', buildings: Array.from({ length: 10 }, (_, i) => building(i)) }] }] }] } }));
  return file;
}
