// The embedded store's own thread: PGlite (PostgreSQL in WASM) runs here, so its work never blocks
// the broker's thread. Plain JavaScript, so it loads the same way under tsx, vitest and node.
// Protocol (one message in, one out, matched by `id`): query, exec, begin, commit, rollback, close.
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { pgliteOptions } from './pglite-settings.mjs';

// PGlite's file layer (Emscripten's NODEFS) sets file modes itself (0666: its virtual FS has no
// umask), so the process umask alone leaves the store readable by every local user. The store's
// files are the service user's alone (DATA_DIR is 0700, everything in it 0600): in this thread,
// whose only job is PGlite, modes are masked to the owner.
for (const name of ['chmodSync', 'fchmodSync', 'lchmodSync']) {
  const original = fs[name];
  if (typeof original !== 'function') continue;
  fs[name] = (target, mode, ...rest) => original(target, typeof mode === 'number' ? mode & 0o700 : mode, ...rest);
}

const pg = await PGlite.create(workerData.dir, pgliteOptions());
if (workerData.initOnly) {
  // Creating the database runs initdb, whose WASM memory PGlite keeps for the life of the instance
  // (~500 MB); this thread only creates it and exits, so that memory goes with it.
  await pg.close();
  parentPort.postMessage({ ready: true });
  process.exit(0);
}
/** Open transactions by the main side's number: the PGlite transaction and how to end it. */
const txs = new Map();

const errorOf = (err) => ({ message: err?.message ?? String(err), code: err?.code, detail: err?.detail, constraint: err?.constraint });

async function handle(m) {
  switch (m.op) {
    case 'query': {
      const target = m.tx ? txs.get(m.tx)?.tx : pg;
      if (!target) throw new Error(`transaction ${m.tx} is not open`);
      const r = await target.query(m.sql, m.params);
      return { rows: r.rows, affectedRows: r.affectedRows };
    }
    case 'exec':
      await pg.exec(m.sql);
      return {};
    case 'begin': {
      const t = { tx: undefined, commit: undefined, rollback: undefined, done: undefined };
      let opened;
      const isOpen = new Promise((r) => (opened = r));
      // PGlite keeps the transaction open until the promise given to it settles: commit or rollback.
      t.done = pg.transaction(
        (tx) =>
          new Promise((commit, rollback) => {
            Object.assign(t, { tx, commit, rollback });
            opened();
          }),
      );
      t.done.catch(() => undefined);
      txs.set(m.tx, t);
      await Promise.race([isOpen, t.done]);
      return {};
    }
    case 'commit':
    case 'rollback': {
      const t = txs.get(m.tx);
      if (!t) throw new Error(`transaction ${m.tx} is not open`);
      txs.delete(m.tx);
      if (m.op === 'commit') t.commit();
      else t.rollback(new Error('rolled back'));
      try {
        await t.done;
      } catch (err) {
        if (m.op === 'commit') throw err;
      }
      return {};
    }
    case 'close':
      await pg.close();
      return {};
    default:
      throw new Error(`unknown op ${m.op}`);
  }
}

parentPort.on('message', (m) => {
  handle(m).then(
    (result) => parentPort.postMessage({ id: m.id, ...result }),
    (err) => parentPort.postMessage({ id: m.id, error: errorOf(err) }),
  );
});
parentPort.postMessage({ ready: true });
