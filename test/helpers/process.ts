import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The command and arguments that run `cmd` with its file-descriptor limit raised to `n` (a socket
 * per connection: 50,000 devices need more than the usual 1,024 or 20,000). `exec` keeps the PID, so
 * the caller measures and stops the program itself. Raising the hard limit needs root or
 * CAP_SYS_RESOURCE; without it the soft limit goes as high as the hard one allows.
 */
export function withNofile(n: number, cmd: string, args: string[]): [string, string[]] {
  return ['sh', ['-c', `ulimit -Hn ${n} 2>/dev/null; ulimit -Sn ${n} 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"; exec "$0" "$@"`, cmd, ...args]];
}

let built = false;
/** `npm start`'s build step, once per process that starts platforms. */
export function buildOnce(): void {
  if (built) return;
  const r = spawnSync(process.execPath, ['deploy/build.mjs'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`deploy/build.mjs failed (${r.status ?? r.signal})`);
  built = true;
}

/** The command that runs an entry as `npm start` runs dist/main.js: deploy/run.sh (node, its allocator settings and preload); NODE names the node it execs. */
export function builtEntry(file: string, nodeArgs: string[] = []): [string, string[]] {
  return ['sh', [path.join(ROOT, 'deploy', 'run.sh'), ...nodeArgs, file]];
}

export interface PlatformProcess {
  proc: ChildProcess;
  ports: { mqtt: number; http: number };
  exited: Promise<number | null>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs what `npm start` runs as its own process on free loopback ports and resolves once it has
 * logged the ports it chose: main.ts is built first (deploy/build.mjs, as `npm start` does; it
 * writes nothing when the build is current) and dist/main.js runs in plain node through deploy/run.sh. `env` adds to (and
 * overrides) the defaults below; `nodeArgs` go to node itself (e.g. `--cpu-prof` to profile the
 * platform under a benchmark's load); `entry` is another TypeScript script, run under tsx (through
 * the same deploy/run.sh), that logs `platform started` the same way (the benchmarks' broker-only server).
 */
export async function startPlatformProcess(env: Record<string, string>, nodeArgs: string[] = [], entry = 'main.ts', nofile?: number): Promise<PlatformProcess> {
  if (entry === 'main.ts') buildOnce();
  const [bin, args] = builtEntry(entry === 'main.ts' ? 'dist/main.js' : entry, entry === 'main.ts' ? nodeArgs : [...nodeArgs, '--import', 'tsx']);
  const [cmd, argv] = nofile ? withNofile(nofile, bin, args) : [bin, args];
  const proc = spawn(cmd, argv, {
    cwd: ROOT,
    env: { ...process.env, NODE: process.execPath, HTTP_PORT: '0', MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_HOST: '127.0.0.1', MQTT_HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ports = await new Promise<{ mqtt: number; http: number }>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) if (line.includes('"platform started"')) resolve(JSON.parse(line).ports);
    });
    void exited.then((code) => reject(new Error(`platform exited early (${code}): ${stderr}`)));
  });
  return {
    proc,
    ports,
    exited,
    stop: (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
