import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { format } from '../core/log-format.ts';
import { buildOnce, builtEntry, ROOT } from './helpers/process.ts';

/** `npm run demo` as a newcomer sees it at a terminal (LOG_FORMAT=pretty stands in for the TTY). */
describe('npm run demo', () => {
  it('ends its start-up with a readable block, logs in short lines, and summarises the bad device instead of a wall of warnings', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-demo-'));
    try {
      buildOnce();
      const proc = spawn(...builtEntry('dist/demo.js'), {
        cwd: ROOT,
        env: { ...process.env, NODE: process.execPath, DATA_DIR: dir, HTTP_PORT: '0', MQTT_PORT: '0', MQTT_WS_PORT: '0', LOG_FORMAT: 'pretty', DEMO_DURATION_S: '12', DEMO_INTERVAL_S: '2', NOTIFY_FLOWS: 'false' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      proc.stdout.on('data', (d) => (out += d));
      proc.stderr.on('data', (d) => (out += d));
      const code = await new Promise<number | null>((r) => proc.once('exit', r));
      expect(code, out).toBe(0);
      expect(out).toContain('智慧物业安全感知平台 · demo running for 12 s');
      expect(out).toContain(path.join(dir, 'user-tokens.json'));
      expect(out).toMatch(/网格员\s+grid_worker\s+gw-/);
      expect(out).toMatch(/居民\s+resident\s+resident-1/);
      expect(out).toMatch(/fire\s+b\d+-smoke-detector-\d+/);
      expect(out).toMatch(/bad-device\s+b\d+-manhole-cover-\d+ {2}\(its refusals are expected/);
      // Short lines, not JSON; none for each of the bad device's refusals.
      const logLines = out.split('\n').filter((l) => /^\d{2}:\d{2}:\d{2} (INFO|WARN|ERROR)/.test(l));
      expect(logLines.length).toBeGreaterThan(3);
      expect(out).not.toMatch(/^\{"level"/m);
      expect(logLines.filter((l) => l.includes('mqtt refused'))).toEqual([]);
      expect(out).toContain('bad-device round done');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a log line reads as time, level, component, message and fields', () => {
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 11, 2, 6, 3, 12), component: 'broker', msg: 'mqtt refused', reason: 'topic_not_allowed', topic: 'v1/a b', err: { message: 'boom' } });
    expect(format(line)).toMatch(/^\d{2}:\d{2}:\d{2} WARN {2}\[broker\] mqtt refused reason=topic_not_allowed topic="v1\/a b" err=boom$/);
    expect(format('not json')).toBe('not json');
  });
});
