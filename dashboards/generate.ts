/**
 * `npm run dashboards`: regenerates dashboards/json/*.json from the TypeScript builders and the
 * device catalog. The JSON is committed (Grafana's file provider reads it); a test fails when it is
 * stale.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '../rules/catalog.ts';
import { buildDashboards, render } from './build.ts';

export const JSON_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'json');

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const dashboards = buildDashboards(await loadCatalog());
  mkdirSync(JSON_DIR, { recursive: true });
  for (const f of readdirSync(JSON_DIR)) if (!(f in dashboards)) rmSync(path.join(JSON_DIR, f));
  for (const [file, d] of Object.entries(dashboards)) writeFileSync(path.join(JSON_DIR, file), render(d));
  console.log(`wrote ${Object.keys(dashboards).length} dashboards to ${JSON_DIR}`);
}
