import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the platform's own files are, wherever its code runs from: the TypeScript sources (under
 * tsx: tests and tools) or the build `npm start` runs (dist/, made by deploy/build.mjs, one bundle
 * with its modules in shared chunks). Paths are found from the repository's root, never from a
 * module's own place, which the bundle changes.
 */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = findRoot(HERE);
/** The build's folder: `npm start` runs dist/main.js. */
export const BUILD_DIR = path.join(ROOT, 'dist');
/** This code is the build's (plain JavaScript, no TypeScript loader in the process). */
export const BUILT = HERE === BUILD_DIR || HERE.startsWith(BUILD_DIR + path.sep);
