import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import { ROOT } from '../core/paths.ts';
import type { App } from './deps.ts';

/** Where `npm run console:build` puts the console (Vue 3 + Vant, console/). */
export const CONSOLE_DIST = path.join(ROOT, 'console', 'dist');
/** The paths the console's pages answer (links in notifications point at items' pages). */
const PAGES = ['/', '/overview', '/board', '/tasks', '/report', '/tickets/*', '/work-orders/*', '/devices/*', '/resident', '/sign-in'];

/**
 * The console at `/`, from the build, with nothing fetched from elsewhere. Its pages' paths get the
 * page (the app routes itself); API, docs and the flows' editor keep theirs. Not built: the page
 * says how to build it.
 */
export async function serveConsole(app: App): Promise<void> {
  if (!existsSync(path.join(CONSOLE_DIST, 'index.html'))) {
    for (const url of PAGES) {
      app.get(url, { schema: { hide: true } }, async (_req, reply) =>
        reply.code(503).type('text/html; charset=utf-8').send('<!doctype html><meta charset="utf-8"><title>控制台未构建</title><p>控制台尚未构建：请运行 <code>npm run console:build</code>（<code>npm run demo</code> 会自动构建）。The console is not built: run <code>npm run console:build</code>.</p>'),
      );
    }
    return;
  }
  await app.register(fastifyStatic, { root: path.join(CONSOLE_DIST, 'assets'), prefix: '/assets/', index: false, decorateReply: true });
  for (const url of PAGES) app.get(url, { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').sendFile('index.html', CONSOLE_DIST));
}

/** Builds the console if it is not built (`npm run demo`, the browser tests); a second or so with Vite. */
export function ensureConsoleBuilt(): boolean {
  if (existsSync(path.join(CONSOLE_DIST, 'index.html'))) return false;
  // vite's bin is not among its exports: found beside its package.json, which is.
  const vite = path.join(path.dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  // A production build whatever the caller's NODE_ENV (vitest's is `test`: Vue's development build).
  const r = spawnSync(process.execPath, [vite, 'build', '--mode', 'production', '--config', path.join(CONSOLE_DIST, '..', 'vite.config.mjs')], { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  if (r.status !== 0) throw new Error(`console build failed (exit ${r.status}): run npm run console:build to see why`);
  return true;
}
