/**
 * `npm run demo`: the platform on its embedded defaults with the demo site, plus simulators playing
 * every scenario at once: normal devices, a fire, an open manhole, an overflowing bin, an e-bike
 * that keeps coming back, and one device that misbehaves on purpose. Ctrl-C stops everything.
 *
 *   DEMO_DURATION_S=60 npm run demo    stops by itself after 60 s and prints a summary
 */
import { loadConfig } from './core/config.ts';
import { createLogger } from './core/logger.ts';
import { onShutdown } from './core/shutdown.ts';
import path from 'node:path';
import { countReadingsByType } from './core/store/readings.ts';
import { getUser } from './core/store/users.ts';
import { DEMO_SITE_FILE, readSiteFile } from './core/site.ts';
import { ROLE_LABELS } from './core/vocabulary.ts';

import { startPlatform } from './platform.ts';
import { ensureConsoleBuilt } from './api/console.ts';
import { readCredentials } from './simulators/credentials.ts';
import { Simulator } from './simulators/simulator.ts';

// The console is served from its build: the first demo makes it.
ensureConsoleBuilt();
const config = loadConfig();
// The bad device's refusals are the scenario working: counted and summarised, not printed one by one.
const badDevices = new Set<string>();
const EXPECTED = new Set(['mqtt refused', 'mqtt client error', 'device message dead-lettered']);
let expectedRefusals = 0;
const log = createLogger(config.LOG_LEVEL, 'platform', config.LOG_FORMAT, {
  drop: (fields, msg) => EXPECTED.has(msg) && badDevices.has(String(fields.deviceId ?? fields.clientId)) && ++expectedRefusals > 0,
});
const durationS = Number(process.env.DEMO_DURATION_S ?? 0);
const platform = await startPlatform(config, { log });
const sim = new Simulator({
  url: `mqtt://127.0.0.1:${platform.ports.mqtt}`,
  catalog: platform.catalog,
  credentials: readCredentials(platform.credentialsFile),
  scenarios: ['normal', 'fire', 'manhole-open', 'bin-overflow', 'ebike-repeat', 'throw-repeat', 'bad-device'],
  intervalS: Number(process.env.DEMO_INTERVAL_S ?? 5),
  durationS,
  log: log.child({ component: 'simulator' }),
});
// Known from the constructor: filled before start, so the bad device's first round is already summarised.
for (const [id, mode] of sim.assignments) if (mode === 'bad-device') badDevices.add(id);
await sim.start();
// A resident's 一键报修 next to what the devices raise, so every board has something on it.
const resident = await getUser(platform.db, 'resident-1');
if (resident) {
  const b = await platform.directory.building('b01');
  if (b) await platform.workItems.fileTicket(resident, { category: 'plumbing', description: '厨房水管漏水 (demo)', buildingId: 'b01', unit: '1', room: '502' }, b);
}
log.info({ devices: sim.devices.length, assignments: Object.fromEntries(sim.assignments) }, 'demo running: simulated devices connected');
process.stdout.write(startBlock());

/** What a newcomer needs after `npm run demo`: where to look, how to sign in, what is going on. */
function startBlock(): string {
  const http = `http://127.0.0.1:${platform.ports.http}`;
  const byRole = new Map<string, string[]>();
  for (const p of readSiteFile(config.SITE_FILE ?? DEMO_SITE_FILE).people) byRole.set(p.role, [...(byRole.get(p.role) ?? []), p.id]);
  const scenarios = new Map<string, string[]>();
  for (const [id, mode] of sim.assignments) scenarios.set(mode, [...(scenarios.get(mode) ?? []), id]);
  const flows = platform.flows?.status();
  const channels = flows ? Object.entries(flows.channels).filter(([, on]) => on).map(([c]) => c) : [];
  const lines = [
    '',
    '  智慧物业安全感知平台 · demo running' + (durationS ? ` for ${durationS} s` : ' (Ctrl-C stops it)'),
    '',
    `  控制台 Console            ${http}/   (each role lands on its page: 一屏统揽 /overview, 我的任务 /tasks, 工单看板 /board, 一键报修 /resident)`,
    `  API 与文档 API and docs   ${http}/docs`,
    `  健康 Health               ${http}/api/v1/health`,
    `  MQTT                      mqtt://127.0.0.1:${platform.ports.mqtt}  (devices: ${platform.credentialsFile})`,
    '',
    `  登录 Sign in: each person's token is in ${path.join(config.DATA_DIR, 'user-tokens.json')}`,
    `    (curl -H "Authorization: Bearer <token>" ${http}/api/v1/me, or POST ${http}/api/v1/session {"token"} for a browser)`,
    ...[...byRole].map(([role, ids]) => `    ${(ROLE_LABELS[role as keyof typeof ROLE_LABELS]?.zh ?? role).padEnd(8, '　')} ${role.padEnd(21)} ${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ` +${ids.length - 3}` : ''}`),
    `    ${ROLE_LABELS.admin.zh.padEnd(8, '　')} ${'admin'.padEnd(21)} ${config.PLATFORM_ADMIN_TOKEN ? 'PLATFORM_ADMIN_TOKEN' : platform.generatedAdminToken ? 'printed above, and in ' + path.join(config.DATA_DIR, 'admin-token') : path.join(config.DATA_DIR, 'admin-token') + ' (from the first start)'}`,
    '',
    `  模拟设备 Simulated devices: ${sim.devices.length}, a reading every ${Number(process.env.DEMO_INTERVAL_S ?? 5)} s`,
    ...[...scenarios].filter(([mode]) => mode !== 'normal').map(([mode, ids]) => `    ${mode.padEnd(14)} ${ids.join(', ')}${mode === 'bad-device' ? '  (its refusals are expected: summarised, not logged one by one)' : ''}`),
    `    ${'normal'.padEnd(14)} the other ${sim.devices.length - [...scenarios].filter(([mode]) => mode !== 'normal').reduce((n, [, ids]) => n + ids.length, 0)}`,
    '',
    `  通知 Notifications: ${flows ? (flows.subscribed ? 'flows listening' : 'flows starting') : 'off (NOTIFY_FLOWS=false)'}; channels ${channels.length ? channels.join(', ') : 'none set (README "Notifications")'}`,
    '',
  ];
  return lines.join('\n') + '\n';
}
// Every 30 s, one line for what the bad device was refused meanwhile.
const summary = setInterval(() => {
  if (expectedRefusals) log.info({ devices: [...badDevices], refused: expectedRefusals }, 'bad device refused as expected (summary)');
  expectedRefusals = 0;
}, 30_000).unref();

const stop = async () => {
  clearInterval(summary);
  await sim.stop();
  await platform.ingest.flush();
  await platform.rules.flush();
  const stored = await countReadingsByType(platform.db);
  await platform.workItems.idle();
  const alarms = await platform.db.query<{ rule_id: string; state: string; n: number }>('SELECT rule_id, state, count(*)::int AS n FROM alarms GROUP BY rule_id, state ORDER BY rule_id');
  const items = await platform.db.query<{ kind: string; severity: string; status: string; n: number }>('SELECT kind, severity, status, count(*)::int AS n FROM work_items GROUP BY 1, 2, 3 ORDER BY 1, 2, 3');
  log.info({ storedByType: stored, alarms: alarms.rows.map((r) => `${r.rule_id} ${r.state} ×${r.n}`), workItems: items.rows.map((r) => `${r.kind} ${r.severity} ${r.status} ×${r.n}`), rules: platform.rules.stats(), ingest: platform.ingest.stats(), simulator: sim.stats }, 'demo summary');
  await platform.stop();
};
onShutdown(log, stop);
if (durationS > 0) {
  await sim.done;
  await stop();
  process.exit(0);
}
