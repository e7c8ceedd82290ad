/**
 * Our broker alone, as the benchmarks compare it with Mosquitto: the platform's PlatformBroker with
 * device authentication, topic ACLs and the packet guard, on its embedded store, but nothing behind
 * it (no ingest, storage or rules; the pipeline benchmark runs those). Seeds SITE_FILE into DATA_DIR
 * on first start and creates the service account BENCH_SUBSCRIBER ("username:secret") for the
 * wildcard subscriber. Logs `platform started` with its port, as `npm start` does.
 */
import path from 'node:path';
import { PlatformBroker } from '../broker/broker.ts';
import { startListeners } from '../broker/listeners.ts';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { seedSite } from '../core/seed.ts';
import { hashSecret } from '../core/secrets.ts';
import { onShutdown } from '../core/shutdown.ts';
import { readSiteFile } from '../core/site.ts';
import { migrate } from '../core/store/migrations.ts';
import { openPgliteWorker } from '../core/store/pglite-worker.ts';
import { getServiceAccount, insertServiceAccount } from '../core/store/service-accounts.ts';
import { DEVICES_DIR, loadCatalog } from '../rules/catalog.ts';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL);
const db = await openPgliteWorker(path.join(config.DATA_DIR, 'store'));
await migrate(db);
const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM org_units');
if (rows[0]!.n === 0) await seedSite(db, readSiteFile(config.SITE_FILE!), (await loadCatalog(DEVICES_DIR)).ids(), path.join(config.DATA_DIR, 'device-credentials.json'));
const [username, secret] = (process.env.BENCH_SUBSCRIBER ?? '').split(':');
if (username && secret && !(await getServiceAccount(db, username))) await insertServiceAccount(db, { username, name: 'bench subscriber', secretHash: await hashSecret(secret), subscribe: ['v1/#'], publish: [], deny: [] });

const broker = new PlatformBroker({ db, log, maxPacketBytes: config.MQTT_MAX_PACKET_BYTES, maxKeepaliveS: config.MQTT_MAX_KEEPALIVE_S, maxInvalidPerMinute: config.MQTT_MAX_INVALID_PER_MIN, sessions: { dir: path.join(config.DATA_DIR, 'sessions'), maxQueued: config.MQTT_MAX_QUEUED_MESSAGES, fsync: config.DATA_FSYNC } });
await broker.start();
const listeners = await startListeners(broker, { host: config.MQTT_HOST, tcpPort: config.MQTT_PORT, wsPort: config.MQTT_WS_PORT, tlsPort: 0, maxPacketBytes: config.MQTT_MAX_PACKET_BYTES });
log.info({ ports: { mqtt: listeners.ports.mqtt, http: 0 } }, 'platform started');
onShutdown(log, async () => {
  // Deliveries to no subscriber because it could not keep up; reads paused while the bus was backed up.
  log.info({ deliveriesShed: broker.load.shed, readsPausedForBus: broker.load.readsPausedForBus }, 'bench broker stopping');
  await listeners.close();
  await broker.close();
  await db.close();
});
