/**
 * `npm run simulate -- [options]`: plays the seeded devices against a running platform.
 *
 *   --scenario a,b     scenarios to play together (default normal); see simulators/scenarios.ts
 *   --devices N        use N devices, spread over the types (default all)
 *   --types t1,t2      only these device types
 *   --interval S       seconds between two reports of one device (default 5)
 *   --rate R           load mode: R reports per second in total (overrides --interval)
 *   --duration S       stop after S seconds (default 0: until Ctrl-C)
 *   --url URL          broker (default mqtt://127.0.0.1:$MQTT_PORT)
 *   --credentials F    provisioning sheet (default $DATA_DIR/device-credentials.json)
 *   --qos 0|1          (default 1)
 *   --seed N           randomness seed (default 1)
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { loadCatalog } from '../rules/catalog.ts';
import { readCredentials } from './credentials.ts';
import { SCENARIOS } from './scenarios.ts';
import { Simulator } from './simulator.ts';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'normal' },
    devices: { type: 'string' },
    types: { type: 'string' },
    interval: { type: 'string', default: '5' },
    rate: { type: 'string' },
    duration: { type: 'string', default: '0' },
    url: { type: 'string' },
    credentials: { type: 'string' },
    qos: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`scenarios:\n${Object.values(SCENARIOS).map((s) => `  ${s.name.padEnd(14)} ${s.description}`).join('\n')}`);
  process.exit(0);
}

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL, 'simulator', config.LOG_FORMAT);
const num = (v: string | undefined, name: string) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: expected a non-negative number, got "${v}"`);
  return n;
};

const sim = new Simulator({
  url: values.url ?? `mqtt://127.0.0.1:${config.MQTT_PORT}`,
  catalog: await loadCatalog(),
  credentials: readCredentials(values.credentials ?? path.join(config.DATA_DIR, 'device-credentials.json')),
  scenarios: values.scenario!.split(','),
  devices: num(values.devices, 'devices'),
  types: values.types?.split(','),
  intervalS: num(values.interval, 'interval'),
  rate: num(values.rate, 'rate'),
  durationS: num(values.duration, 'duration'),
  qos: values.qos === '0' ? 0 : 1,
  seed: num(values.seed, 'seed'),
  log,
});
process.on('SIGINT', () => void sim.stop());
process.on('SIGTERM', () => void sim.stop());
await sim.start();
log.info({ devices: sim.devices.length, connected: sim.connected, ratePerS: sim.rate, assignments: Object.fromEntries(sim.assignments) }, 'simulation running');
const report = setInterval(() => log.info({ connected: sim.connected, ...sim.stats }, 'simulation progress'), 10_000);
await sim.done;
clearInterval(report);
log.info({ ...sim.stats }, 'simulation finished');
