import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Db } from './db.ts';
import { ForegroundFirst } from './foreground-first.ts';
import { syncFilesystem } from './sync.ts';
import { ROOT } from '../paths.ts';

type Reply = { id: number; rows?: unknown[]; affectedRows?: number; error?: { message: string; code?: string; detail?: string; constraint?: string } };

/**
 * The embedded store on its own thread (see pglite-thread.mjs). The broker's thread only posts
 * messages; PostgreSQL's work (a batch of readings, an alarm's transaction) runs beside it, on the
 * machine's other core. Same interface and SQL as the in-thread `openPglite`.
 */
export async function openPgliteWorker(dir: string): Promise<Db> {
  mkdirSync(dir, { recursive: true });
  // A new store is created by a thread of its own that then exits (see pglite-thread.mjs): the
  // platform's first start then takes ~300 MB instead of ~800 MB (`npm run bench:scale`).
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    const init = startThread(dir, true);
    await ready(init);
    await new Promise((r) => init.once('exit', r));
  }
  const worker = startThread(dir, false);
  const waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let nextTx = 1;
  let failed: Error | undefined;

  await ready(worker);
  worker.on('message', (m: Reply) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.error) w.reject(Object.assign(new Error(m.error.message), m.error));
    else w.resolve(m);
  });
  const failAll = (err: Error) => {
    failed = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('error', (err) => failAll(new Error(`embedded store thread failed: ${err.message}`)));
  worker.on('exit', (code) => failAll(new Error(`embedded store thread exited (${code})`)));

  const call = (msg: Record<string, unknown>): Promise<Reply> => {
    if (failed) return Promise.reject(failed);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ ...msg, id });
    });
  };
  const gate = new ForegroundFirst();
  const send = (sql: string, params: unknown[] | undefined, tx?: number) => async () => {
    const r = await call({ op: 'query', sql, params, tx });
    return { rows: (r.rows ?? []) as never[], affectedRows: r.affectedRows };
  };

  return {
    query: (sql, params) => gate.foreground(send(sql, params)),
    background: { query: (sql, params) => gate.background(send(sql, params)) },
    exec: (sql) => gate.foreground(async () => void (await call({ op: 'exec', sql }))),
    // One foreground call from begin to commit: no batch slips in while the transaction holds the store.
    transaction: (fn) =>
      gate.foreground(async () => {
        const tx = nextTx++;
        await call({ op: 'begin', tx });
        let result;
        try {
          result = await fn({ query: (sql, params) => send(sql, params, tx)() });
        } catch (err) {
          await call({ op: 'rollback', tx }).catch(() => undefined);
          throw err;
        }
        await call({ op: 'commit', tx });
        return result;
      }),
    syncToDisk: () => syncFilesystem(dir),
    close: async () => {
      gate.close();
      if (!failed) await call({ op: 'close' });
      await worker.terminate();
    },
  };
}

/**
 * The store thread's young generation, MB. Its JavaScript holds little for long (PostgreSQL's own
 * memory is the WASM heap), but V8's default young generation grew to tens of MB of the thread's
 * heap under the readings' large documents. With 8 MB, 1,000 devices under bench:platform's QoS 1
 * load (three alternating pairs): idle RSS 323–329 → 289–309 MB, peak 457–515 → 373–482 MB, after
 * the load 456–486 → 373–410 MB, CPU per message within the spread (68.2–78.5 → 70.0–79.7 µs).
 */
const STORE_THREAD_YOUNG_GENERATION_MB = 8;

// No inherited --import hooks: the thread is plain JavaScript.
const startThread = (dir: string, initOnly: boolean) =>
  new Worker(path.join(ROOT, 'core', 'store', 'pglite-thread.mjs'), { workerData: { dir, initOnly }, execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: STORE_THREAD_YOUNG_GENERATION_MB } });

function ready(worker: Worker): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`embedded store thread failed to start: ${err.message}`));
    const onExit = (code: number) => reject(new Error(`embedded store thread exited (${code}) before it was ready`));
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.once('message', (m: { ready?: boolean }) => {
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (m.ready) resolve();
    });
  });
}
