import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_DIR } from '../core/paths.ts';
import { buildOnce, builtEntry, ROOT } from './helpers/process.ts';
import { servicesRequired } from './helpers/services.ts';

// Where Debian's libjemalloc2 puts the library (amd64, arm64); deploy/run.sh looks there too.
const JEMALLOC_LIB = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2'].find((f) => existsSync(f));

/**
 * What `npm start` runs is the build (deploy/build.mjs → dist/), plain JavaScript with no
 * TypeScript loader in the process. A device type dropped into devices/ must reach it with no other
 * change, and the build's catalog must be the sources' catalog.
 */
describe('the build npm start runs', () => {
  it('has every device type of devices/, each loadable in plain node', () => {
    buildOnce();
    const sources = readdirSync(path.join(ROOT, 'devices')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '')).sort();
    const built = readdirSync(path.join(BUILD_DIR, 'devices')).filter((f) => f.endsWith('.js')).map((f) => f.replace(/\.js$/, '')).sort();
    expect(built).toEqual(sources);
    // The built main's own imports, in a node with no loader: each device file imports and carries
    // its definition (its facets are the shared chunks', not copies).
    const probe = `const ids = []; for (const f of ${JSON.stringify(built)}) { const m = await import('./dist/devices/' + f + '.js'); ids.push(m.default.id); } console.log(JSON.stringify(ids));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(sources);
  });

  it('writes nothing when nothing changed, so a second start never rewrites files the first has loaded', () => {
    buildOnce();
    const r = spawnSync(process.execPath, ['deploy/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/rebuilt/);
  });

  it('runs the entry in node with the allocator and WASM settings of deploy/run.sh, in the same process, an operator\'s own values kept', async () => {
    // run.sh hands node what follows its name: `-e <probe>` stands in for the entry file.
    // The probe says when it runs: by then the loader has mapped every preloaded library.
    const [cmd, args] = builtEntry("console.log('running'); setTimeout(() => {}, 10000)", ['-e']);
    const environOf = async (env: Record<string, string>) => {
      const proc = spawn(cmd, args, { env: { ...process.env, NODE: process.execPath, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        await new Promise<void>((resolve, reject) => {
          proc.stdout!.on('data', (d: Buffer) => d.includes('running') && resolve());
          proc.on('exit', (code) => reject(new Error(`the probe exited (${code}) before it ran`)));
        });
        // exec keeps the PID: the process that runs the probe is the one sh started, as node.
        const cmdline = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8');
        expect(cmdline.startsWith(process.execPath)).toBe(true);
        const environ = Object.fromEntries(readFileSync(`/proc/${proc.pid}/environ`, 'utf8').split('\0').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
        // What the process really loaded and was started with, not only what it was told.
        return { environ, jemalloc: readFileSync(`/proc/${proc.pid}/maps`, 'utf8').includes('libjemalloc'), argv: cmdline.split('\0') };
      } finally {
        proc.kill();
      }
    };
    const { environ, jemalloc, argv } = await environOf({});
    expect(environ).toMatchObject({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' });
    expect((await environOf({ MALLOC_ARENA_MAX: '4' })).environ.MALLOC_ARENA_MAX).toBe('4');
    expect(argv).toContain('--wasm-num-compilation-tasks=1');
    expect((await environOf({ WASM_COMPILE_TASKS: '2' })).argv).toContain('--wasm-num-compilation-tasks=2');
    // jemalloc where Debian's libjemalloc2 is installed (.ci/run and the image install it).
    if (!JEMALLOC_LIB) {
      if (servicesRequired) throw new Error('libjemalloc.so.2 is missing: apt-get install libjemalloc2');
      console.warn('SKIPPED: jemalloc checks, libjemalloc.so.2 is not installed (apt-get install libjemalloc2)');
      return;
    }
    expect(jemalloc).toBe(true);
    expect(environ.MALLOC_CONF).toBe('narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0');
    expect((await environOf({ MALLOC_CONF: 'narenas:1' })).environ.MALLOC_CONF).toBe('narenas:1');
    const glibc = await environOf({ JEMALLOC_PATH: 'none' });
    expect(glibc.jemalloc).toBe(false);
    expect(glibc.environ.MALLOC_CONF).toBeUndefined();
    // An LD_PRELOAD of one's own is kept as it is, jemalloc not added.
    const libc = path.join(path.dirname(JEMALLOC_LIB), 'libc.so.6');
    const own = await environOf({ LD_PRELOAD: libc });
    expect(own.environ.LD_PRELOAD).toBe(libc);
    expect(own.jemalloc).toBe(false);
  });

  it('preloads deploy/quiet-debug.mjs: mqtt-packet\'s debug calls do nothing unless DEBUG names them, and log when it does', () => {
    // A CONNECT parsed by the parser aedes uses; its debug() calls write to stderr when enabled.
    // It also names which debug mqtt-packet got: debug's own gathers its arguments (`...args`) first.
    const probe = `const debug = require(require('module').createRequire(require.resolve('mqtt-packet/parser.js')).resolve('debug')); console.log(String(debug('mqtt-packet:parser')).includes('...args') ? 'own' : 'quiet'); const mqtt = require('mqtt-packet'); const p = mqtt.parser(); p.on('packet', (x) => console.log(x.cmd)); p.parse(mqtt.generate({ cmd: 'connect', clientId: 'c', protocolId: 'MQTT', protocolVersion: 4, keepalive: 60, clean: true }))`;
    const run = (env: Record<string, string>) => spawnSync(...builtEntry(probe, ['-e']), { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE: process.execPath, DEBUG: '', ...env } });
    const quiet = run({});
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stdout.trim().split('\n')).toEqual(['quiet', 'connect']);
    expect(quiet.stderr).toBe('');
    const loud = run({ DEBUG: 'mqtt-packet:parser' });
    expect(loud.stdout.trim().split('\n')).toEqual(['own', 'connect']);
    expect(loud.stderr).toContain('mqtt-packet:parser');
  });
});
