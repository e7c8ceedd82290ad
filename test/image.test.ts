import { spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/platform.ts';
import { ROOT } from './helpers/process.ts';
import { freePort } from './helpers/services.ts';

/**
 * Issue 18: the image. No Docker engine runs here, so what can be checked without one is: the
 * Dockerfile against hadolint's rules that apply to it, compose building and using that image, and
 * the image's own entrypoint and HEALTHCHECK run as the container runs them (its ENV, a non-root
 * user, DATA_DIR its own), on the code as the build stage leaves it (`npm ci` of this checkout).
 */
interface Instruction {
  op: string;
  args: string;
}

function instructions(file: string): Instruction[] {
  const text = readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

const dockerfile = instructions(path.join(ROOT, 'Dockerfile'));
const finalStage = dockerfile.slice(dockerfile.map((i) => i.op).lastIndexOf('FROM'));
const envOf = (stage: Instruction[]) =>
  Object.fromEntries(stage.filter((i) => i.op === 'ENV').flatMap((i) => [...i.args.matchAll(/([A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));

describe('Dockerfile', () => {
  it('follows hadolint\'s rules: pinned bases, multi-stage, exec form, no ADD, absolute WORKDIR, a non-root USER', () => {
    const froms = dockerfile.filter((i) => i.op === 'FROM');
    expect(froms.length, 'multi-stage: build, then run').toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f.args, 'DL3006/DL3007: a tag, not latest').toMatch(/^[a-z0-9./-]+:(?!latest)[\w.-]+( AS \w+)?$/i);
    expect(dockerfile.some((i) => i.op === 'ADD'), 'DL3020: COPY, not ADD').toBe(false);
    for (const w of dockerfile.filter((i) => i.op === 'WORKDIR')) expect(w.args, 'DL3000').toMatch(/^\//);
    for (const r of dockerfile.filter((i) => i.op === 'RUN')) {
      expect(r.args, 'DL3003: WORKDIR, not cd').not.toMatch(/(^|&&|;)\s*cd\s/);
      expect(r.args, 'DL3004: no sudo').not.toMatch(/\bsudo\b/);
      if (/apt-get install/.test(r.args)) expect(r.args, 'DL3015').toContain('--no-install-recommends');
      expect(r.args, 'the lockfile decides: npm ci').not.toMatch(/npm (install|i)\b/);
    }
    const ops = finalStage.map((i) => i.op);
    const user = finalStage.filter((i) => i.op === 'USER').at(-1);
    expect(user?.args, 'DL3002: the last USER is not root').toMatch(/^(?!root$|0$)\w+/);
    expect(ops.lastIndexOf('USER')).toBeLessThan(ops.indexOf('ENTRYPOINT'));
    const entry = finalStage.find((i) => i.op === 'ENTRYPOINT')!;
    expect(() => JSON.parse(entry.args), 'DL3025: exec form').not.toThrow();
    // npm ci and the console's build happen at build time, in the first stage.
    const build = dockerfile.slice(0, dockerfile.indexOf(froms[1]!));
    expect(build.some((i) => i.op === 'RUN' && i.args.includes('npm ci'))).toBe(true);
    expect(build.some((i) => i.op === 'RUN' && i.args.includes('console:build'))).toBe(true);
  });

  it('keeps DATA_DIR as a volume and checks health on /api/v1/health/ready', () => {
    const env = envOf(finalStage);
    const volume = finalStage.find((i) => i.op === 'VOLUME')!;
    expect(JSON.parse(volume.args)).toContain(env.DATA_DIR);
    const hc = finalStage.find((i) => i.op === 'HEALTHCHECK')!;
    const cmd = JSON.parse(hc.args.slice(hc.args.indexOf('CMD') + 3).trim()) as string[];
    expect(readFileSync(path.join(ROOT, cmd[1]!), 'utf8')).toContain('/api/v1/health/ready');
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['.git', 'node_modules', 'data']));
  });
});

describe('deploy/compose.yaml', () => {
  const compose = parse(readFileSync(path.join(ROOT, 'deploy', 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, any> };
  it('builds the Dockerfile and runs it; nothing installs at start', () => {
    const platforms = Object.entries(compose.services).filter(([, s]) => s.build);
    expect(platforms.map(([n]) => n).sort()).toEqual(['node-1', 'node-2', 'node-3', 'platform']);
    for (const [, s] of platforms) {
      expect(path.resolve(ROOT, 'deploy', s.build.context, s.build.dockerfile)).toBe(path.join(ROOT, 'Dockerfile'));
      expect(JSON.stringify(s.command ?? '')).not.toMatch(/npm (ci|install)/);
    }
  });

  it('has a three-node profile on one PostgreSQL and one Redis behind a TCP balancer', () => {
    const nodes = ['node-1', 'node-2', 'node-3'].map((n) => compose.services[n]);
    for (const n of nodes) {
      expect(n.profiles).toContain('cluster');
      expect(n.environment.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
      expect(n.environment.REDIS_URL).toBe('redis://redis:6379');
    }
    expect(new Set(nodes.map((n) => n.environment.NODE_ID)).size).toBe(3);
    expect(new Set(nodes.map((n) => JSON.stringify(n.volumes))).size, 'a volume each').toBe(3);
    for (const s of ['postgres', 'redis', 'balancer', 'influxdb', 'grafana', 'node-red']) expect(compose.services[s], s).toBeDefined();
    const haproxy = readFileSync(path.join(ROOT, 'deploy', 'haproxy.cfg'), 'utf8');
    expect(haproxy).toMatch(/frontend mqtt\s+mode tcp/);
    for (const n of ['node-1', 'node-2', 'node-3']) expect(haproxy).toContain(`server ${n} ${n}:1883 check`);
  });
});

describe('the image\'s entrypoint, as the container runs it', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sps-image-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts as a non-root user with the image\'s ENV, passes its HEALTHCHECK, and stops cleanly on SIGTERM', async () => {
    const env = envOf(finalStage);
    const entry = JSON.parse(finalStage.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    const hc = finalStage.find((i) => i.op === 'HEALTHCHECK')!;
    const check = JSON.parse(hc.args.slice(hc.args.indexOf('CMD') + 3).trim()) as string[];
    // The image's `node` user is uid 1000; as root here, the same uid (DATA_DIR its own, the code read-only).
    const asUser = process.getuid?.() === 0 ? { uid: 1000, gid: 1000 } : {};
    if ('uid' in asUser) chownSync(dataDir, 1000, 1000);
    const ports = { HTTP_PORT: String(await freePort()), MQTT_PORT: String(await freePort()), MQTT_WS_PORT: String(await freePort()) };
    const runEnv = { PATH: process.env.PATH!, HOME: dataDir, ...env, DATA_DIR: dataDir, ...ports, HTTP_HOST: '127.0.0.1', MQTT_HOST: '127.0.0.1', MQTT_TLS_PORT: '0', NOTIFY_FLOWS: 'false', LOG_LEVEL: 'warn' };
    const exe = entry[0] === 'node' ? process.execPath : entry[0]!;
    const proc = spawn(exe, entry.slice(1), { cwd: ROOT, env: runEnv, stdio: ['ignore', 'pipe', 'pipe'], ...asUser });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      await eventually(() => spawnSync(process.execPath, check.slice(1), { cwd: ROOT, env: runEnv }).status === 0 || (proc.exitCode !== null && Promise.reject(new Error(out))), 60_000, 'the HEALTHCHECK to pass');
      expect(out).not.toMatch(/EACCES|permission denied/i);
    } finally {
      proc.kill('SIGTERM');
    }
    expect(await exited, out).toBe(0);
  }, 90_000);
});
