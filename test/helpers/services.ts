import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * Real servers for integration tests, from the Debian packages' binaries (installed by .ci/run):
 * each on free loopback ports, in a temp folder, stopped by its PID afterwards. Without the binary
 * a suite is skipped with a loud message, unless CI=true or REQUIRE_SERVICES=1, where it fails.
 */
export const servicesRequired = process.env.CI === 'true' || process.env.REQUIRE_SERVICES === '1';

export function haveBinary(bin: string): boolean {
  if (existsSync(bin)) return true;
  if (servicesRequired) return true; // run, and fail at start with the reason
  console.warn(`\n!!! ${bin} is not installed: the suites that need it are SKIPPED (apt-get install ${path.basename(bin)}; CI fails instead)\n`);
  return false;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Service {
  url: string;
  dir: string;
  /** Stops the server (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

/** Polls `ready` until it says yes, the process exits, or `timeoutMs` passes. */
async function waitReady(ready: () => Promise<boolean> | boolean, proc: ChildProcess, what: string, log: () => string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}\n${log()}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not become ready\n${log()}`);
}

/** An HTTP endpoint answers 2xx. */
const answers = (url: string) => async () => {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false; // not up yet
  }
};

/** Stops a server by its PID: the signal, then SIGKILL after 10 s; resolves once it has exited. */
async function stopProcess(p: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!p || p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * A server process in `dir`: started (and started again) with `args`, ready when `ready` says so
 * (it sees the process's recent output), stopped with `stopSignal`, its folder removed by dispose.
 */
function managed(bin: string, args: () => string[], o: { dir: string; url: string; ready: (log: string) => Promise<boolean> | boolean; stopSignal?: NodeJS.Signals; as?: { uid?: number; gid?: number } }): Service {
  let proc: ChildProcess | undefined;
  let log = '';
  const svc: Service = {
    url: o.url,
    dir: o.dir,
    async start() {
      if (!existsSync(bin)) throw new Error(`${bin} is not installed (apt-get install ${path.basename(bin)})`);
      const p = (proc = spawn(bin, args(), { cwd: o.dir, stdio: ['ignore', 'pipe', 'pipe'], ...o.as }));
      p.stdout!.on('data', (d) => (log = (log + d).slice(-4000)));
      p.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
      try {
        await waitReady(() => o.ready(log), p, path.basename(bin), () => log);
      } catch (err) {
        p.kill('SIGKILL');
        throw err;
      }
    },
    async stop() {
      await stopProcess(proc, o.stopSignal ?? 'SIGTERM');
      proc = undefined;
    },
    async dispose() {
      await svc.stop();
      rmSync(o.dir, { recursive: true, force: true });
    },
  };
  return svc;
}

export const VICTORIA_METRICS = '/usr/bin/victoria-metrics';
export const INFLUXD = '/usr/bin/influxd';

export async function startVictoriaMetrics(): Promise<Service> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-vm-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const svc = managed(VICTORIA_METRICS, () => [`-storageDataPath=${path.join(dir, 'data')}`, `-httpListenAddr=127.0.0.1:${port}`, '-retentionPeriod=100y', '-search.latencyOffset=0s'], { dir, url, ready: answers(`${url}/health`) });
  await svc.start();
  return svc;
}

/** InfluxDB 1.x with every listener on loopback and nothing reported home. */
export async function startInfluxDB1(): Promise<Service> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-influx-'));
  const [port, rpc] = [await freePort(), await freePort()];
  const conf = path.join(dir, 'influxdb.conf');
  writeFileSync(conf, `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${path.join(dir, 'meta')}"
[data]
  dir = "${path.join(dir, 'data')}"
  wal-dir = "${path.join(dir, 'wal')}"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`);
  const url = `http://127.0.0.1:${port}`;
  const svc = managed(INFLUXD, () => ['run', '-config', conf], { dir, url, ready: answers(`${url}/ping`) });
  await svc.start();
  return svc;
}

/** An InfluxQL query against InfluxDB 1.x: the series of the first statement. */
export async function influxQL(url: string, db: string, q: string): Promise<{ name: string; columns: string[]; values: unknown[][]; tags?: Record<string, string> }[]> {
  const u = new URL('/query', url);
  u.searchParams.set('db', db);
  u.searchParams.set('q', q);
  u.searchParams.set('epoch', 'ms');
  const res = await fetch(u, { method: 'POST' });
  const body = (await res.json()) as { results: { series?: { name: string; columns: string[]; values: unknown[][]; tags?: Record<string, string> }[]; error?: string }[]; error?: string };
  if (body.error || body.results[0]?.error) throw new Error(`InfluxQL ${q}: ${body.error ?? body.results[0]!.error}`);
  return body.results[0]?.series ?? [];
}

/** Creates database `name` on the server whose `postgres` database is at `serverUrl`; returns its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return serverUrl.replace(/\/postgres$/, `/${name}`);
}

/** Debian's PostgreSQL server binaries (`apt-get install postgresql`), whatever its major version. */
export const POSTGRES_BIN = (() => {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a)) : [];
  return path.join(root, versions[0] ?? '15', 'bin');
})();

/**
 * A PostgreSQL server of its own in a temp folder on a free loopback port, trust authentication for
 * the `postgres` user on loopback only. Run as the `postgres` user when the tests run as root (the
 * server refuses root). `url` is the `postgres` database; `database()` makes a fresh one.
 */
export async function startPostgres(): Promise<Service & { database(): Promise<string> }> {
  const bin = (b: string) => path.join(POSTGRES_BIN, b);
  if (!existsSync(bin('postgres'))) throw new Error(`${bin('postgres')} is not installed (apt-get install postgresql)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-pg-'));
  const data = path.join(dir, 'data');
  // As root, the server and initdb run as the `postgres` user (the process itself, so signals reach it).
  const user = process.getuid?.() === 0 ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : {};
  if ('uid' in user) execFileSync('chown', ['postgres:postgres', dir]);
  execFileSync(bin('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8'], { stdio: 'pipe', cwd: dir, ...user });
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const accepts = async () => {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  };
  let n = 0;
  const svc = {
    // SIGINT: PostgreSQL's fast shutdown (sessions ended, a clean checkpoint).
    ...managed(bin('postgres'), () => ['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', dir, '-c', 'max_connections=300', '-c', 'shared_buffers=64MB'], { dir, url, ready: accepts, stopSignal: 'SIGINT', as: user }),
    database: () => createDatabase(url, `t${process.pid}_${Date.now().toString(36)}_${n++}`),
  };
  await svc.start();
  return svc;
}

export const REDIS_SERVER = '/usr/bin/redis-server';

/** A Redis server of its own in a temp folder on a free loopback port (append-only file on, as a cluster runs it). */
export async function startRedis(): Promise<Service> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} is not installed (apt-get install redis-server)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const svc = managed(REDIS_SERVER, () => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--protected-mode', 'no'], { dir, url, ready: (log) => log.includes('Ready to accept connections') });
  await svc.start();
  return svc;
}
