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

import { startPlatform } from './platform.ts';
import { readCredentials } from './simulators/credentials.ts';
import { Simulator } from './simulators/simulator.ts';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL);
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
await sim.start();
// A resident's 一键报修 next to what the devices raise, so every board has something on it.
const resident = await getUser(platform.db, 'resident-1');
if (resident) {
  const b = await platform.directory.building('b01');
  if (b) await platform.workItems.fileTicket(resident, { category: 'plumbing', description: '厨房水管漏水 (demo)', buildingId: 'b01', unit: '1', room: '502' }, b);
}
log.info(
  {
    console: `http://127.0.0.1:${platform.ports.http}/docs`,
    health: `http://127.0.0.1:${platform.ports.http}/api/v1/health`,
    userTokens: path.join(config.DATA_DIR, 'user-tokens.json'),
    devices: sim.devices.length,
    assignments: Object.fromEntries(sim.assignments),
  },
  'demo running: simulated devices connected',
);

const stop = async () => {
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
