// Builds what `npm start` and `npm run demo` run: the TypeScript sources bundled into plain
// JavaScript in dist/ (esbuild), so the running process carries no TypeScript loader. tsx at run
// time keeps a loader thread and every module's transformed source: idle with 1,000 devices, a
// median of 360 MB against 406 MB under tsx (issue 20, eight paired runs).
//
// One entry per program and per device type; the modules they share go into chunks, so the device
// files the catalog imports at start (dist/devices/*.js) use the same module instances as the rest.
// Dependencies stay in node_modules. Only files whose content changed are written, and files of an
// older build are removed, so a second start while one runs touches nothing it has loaded.
//
//   node deploy/build.mjs        (npm start and npm run demo run it first; about 0.3 s here)
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'dist');
const deviceFiles = readdirSync(path.join(ROOT, 'devices'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('_'))
  .map((f) => `devices/${f}`);

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: ['main.ts', 'demo.ts', ...deviceFiles],
  outdir: OUT,
  outbase: '.',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  // Stack traces name the sources with `node --enable-source-maps dist/main.js`.
  sourcemap: 'linked',
  write: false,
  logLevel: 'warning',
});

const wanted = new Set();
let written = 0;
for (const file of result.outputFiles) {
  wanted.add(file.path);
  let same = false;
  try {
    same = Buffer.compare(readFileSync(file.path), file.contents) === 0;
  } catch {}
  if (same) continue;
  mkdirSync(path.dirname(file.path), { recursive: true });
  // Whole or not at all: another start may be loading this file right now.
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, file.contents);
  renameSync(tmp, file.path);
  written++;
}
let removed = 0;
const prune = (dir) => {
  for (const f of readdirSync(dir)) {
    const full = path.join(dir, f);
    if (statSync(full).isDirectory()) prune(full);
    else if (!wanted.has(full) && !full.endsWith('.tmp')) {
      rmSync(full);
      removed++;
    }
  }
};
prune(OUT);
if (written || removed) console.error(`deploy/build.mjs: dist/ rebuilt (${written} written, ${removed} removed)`);
