import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildApp } from './api/app.ts';
import type { App } from './api/deps.ts';
import { PlatformBroker } from './broker/broker.ts';
import { startListeners, type Listeners } from './broker/listeners.ts';
import type { Config } from './core/config.ts';
import { Cluster, nodeIdentity } from './core/cluster.ts';
import { createLogger, type Logger } from './core/logger.ts';
import { makePrivate, weakTokenProblem } from './core/private-files.ts';
import { createLimits } from './core/limits.ts';
import { seedSite } from './core/seed.ts';
import { alinkKey as loadAlinkKey, generateSecret, tokenDigest } from './core/secrets.ts';
import { DEMO_SITE_FILE, readSiteFile } from './core/site.ts';
import type { Db } from './core/store/db.ts';
import { prunePresence, resetPresence } from './core/store/devices.ts';
import { migrate } from './core/store/migrations.ts';
import { openStore } from './core/store/open.ts';
import { pruneReadings } from './core/store/readings.ts';
import { getSetting, setSetting } from './core/store/settings.ts';
import { DEVICES_DIR, loadCatalog, type Catalog } from './rules/catalog.ts';
import { Ingest } from './ingest/ingest.ts';
import { EmbeddedSink, type ReadingSink } from './ingest/sink.ts';
import type { PointTags } from './ingest/influx/line-protocol.ts';
import { InfluxSink } from './ingest/influx/sink.ts';
import { V1Writer, V2Writer } from './ingest/influx/writers.ts';
import { Directory } from './core/directory.ts';
import { EventBus } from './core/event-bus.ts';
import { EventRelay } from './core/event-relay.ts';
import { MqttFanout } from './notify/mqtt-fanout.ts';
import { flowsCredentials, FLOWS_MQTT_USERNAME } from './notify/flows-accounts.ts';
import { editorSocket, NotificationFlows } from './notify/flows-process.ts';
import { proxyEditor } from './notify/editor-proxy.ts';
import { PlatformMetrics } from './platform-metrics.ts';
import type { Clock } from './rules/clock.ts';
import { RuleEngine } from './rules/engine.ts';
import { seedOverrides } from './rules/overrides.ts';
import type { PlatformEvent } from './work-items/events.ts';
import { WorkItems } from './work-items/service.ts';
import { commandHandler } from './work-items/commands.ts';
import { DEFAULT_SLA, slaSchema, type Sla } from './work-items/sla.ts';

export interface Platform {
  config: Config;
  log: Logger;
  catalog: Catalog;
  db: Db;
  broker: PlatformBroker;
  ingest: Ingest;
  rules: RuleEngine;
  workItems: WorkItems;
  /** What happens (alarm, incident and work-item events), for every consumer. */
  bus: EventBus<PlatformEvent>;
  directory: Directory;
  app: App;
  /** The notification flows' Node-RED (NOTIFY_FLOWS), when they run. */
  flows?: NotificationFlows;
  ports: { http: number; mqtt: number; ws: number; tls?: number };
  /** Where the seeded devices' secrets were written (the provisioning sheet). */
  credentialsFile: string;
  /** Set only when this start generated the admin token (first start without PLATFORM_ADMIN_TOKEN). */
  generatedAdminToken?: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Device catalog folder (tests point it at a copy with an extra type). */
  catalogDir?: string;
  /** The rules' clock (tests use a manual one). */
  clock?: Clock;
  /** Messages waiting on the broker's bus before it stops reading (tests lower it). */
  busHighWater?: number;
  /** How long the start waits for the notification flows to listen on the broker (ms). */
  flowsWaitMs?: number;
}

/** Starts store, broker, ingest and HTTP in this process: the embedded default of DESIGN §2. */
export async function startPlatform(config: Config, opts: StartOptions = {}): Promise<Platform> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL, 'platform', config.LOG_FORMAT);
  const weak = config.PLATFORM_ADMIN_TOKEN === undefined ? undefined : weakTokenProblem(config.PLATFORM_ADMIN_TOKEN);
  if (weak) throw new Error(`PLATFORM_ADMIN_TOKEN ${weak}`);
  const narrowed = makePrivate(config.DATA_DIR);
  if (narrowed) log.warn({ dataDir: config.DATA_DIR, files: narrowed }, 'files under DATA_DIR were readable by others: narrowed to the service user (0600/0700)');

  // Several nodes share one PostgreSQL: an embedded store is one node's own.
  if (config.REDIS_URL && !config.DATABASE_URL) throw new Error('REDIS_URL (cluster mode) needs DATABASE_URL: the nodes must share one PostgreSQL');
  const catalog = await loadCatalog(opts.catalogDir ?? DEVICES_DIR);
  const db = await openStore(config);
  const applied = await migrate(db);
  if (applied.length) log.info({ migrations: applied }, 'store migrated');
  const nodeId = config.REDIS_URL ? nodeIdentity(config.DATA_DIR, config.NODE_ID) : 'local';
  const alinkKey = loadAlinkKey(config.DATA_DIR, config.ALINK_SECRET_KEY, Boolean(config.REDIS_URL));
  if (!alinkKey) log.warn('Alink devices are refused on this node: a cluster needs the same ALINK_SECRET_KEY on every node');
  const cluster = config.REDIS_URL ? new Cluster({ db, log: log.child({ component: 'cluster' }), nodeId }) : undefined;
  await cluster?.start();
  await resetPresence(db, cluster ? nodeId : undefined);

  const credentialsFile = path.join(config.DATA_DIR, 'device-credentials.json');
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM org_units');
  if (rows[0]!.n === 0) {
    const siteFile = config.SITE_FILE ?? DEMO_SITE_FILE;
    const site = readSiteFile(siteFile);
    const seeded = await seedSite(db, site, catalog.ids(), credentialsFile);
    const overrides = await seedOverrides(db, catalog, site.ruleOverrides, `site file ${siteFile}`);
    log.info({ siteFile, ...seeded, ruleOverrides: overrides, credentialsFile }, 'store seeded from site file');
  }

  const { digest: adminTokenSha256, generated: generatedAdminToken } = await adminToken(db, config);
  if (generatedAdminToken) {
    // Shown once, on the terminal only (never through the log pipeline), and kept for the owner in DATA_DIR.
    const file = path.join(config.DATA_DIR, 'admin-token');
    writeFileSync(file, generatedAdminToken + '\n', { mode: 0o600 });
    process.stderr.write(`\nGenerated admin token (shown once; also saved to ${file}):\n  ${generatedAdminToken}\n\n`);
  }

  // Where each device hangs: one directory for the sinks' tags, the rules, work items and the API.
  const directory = new Directory(db);
  await directory.load();
  const bus = new EventBus<PlatformEvent>(log.child({ component: 'events' }));
  const sinks = readingSinks(config, log, db, nodeId, (id) => {
    const p = directory.get(id);
    return p && { building: p.buildingId, grid: p.gridId, community: p.communityId };
  });
  const ingest = new Ingest({
    catalog,
    db,
    log: log.child({ component: 'ingest' }),
    sinks,
    maxPayloadBytes: config.INGEST_MAX_PAYLOAD_BYTES,
    journalDir: path.join(config.DATA_DIR, 'journal'),
    nodeId,
    journalFsync: config.DATA_FSYNC,
    dedupWindowMs: config.INGEST_DEDUP_WINDOW_S * 1000,
    deadLetterRetention: { maxAgeMs: config.DEAD_LETTERS_RETENTION_DAYS * 86_400_000, maxBytes: config.DEAD_LETTERS_MAX_MB * 1024 * 1024 },
    rejectionWindowMs: config.HEALTH_REJECTIONS_WINDOW_S * 1000,
  });
  const limits = createLimits(config);
  const broker = new PlatformBroker({
    limits,
    db,
    log: log.child({ component: 'broker' }),
    maxPacketBytes: config.MQTT_MAX_PACKET_BYTES,
    maxKeepaliveS: config.MQTT_MAX_KEEPALIVE_S,
    hooks: ingest.hooks(),
    busHighWater: opts.busHighWater,
    maxInvalidPerMinute: config.MQTT_MAX_INVALID_PER_MIN,
    sessions: { dir: path.join(config.DATA_DIR, 'sessions'), maxQueued: config.MQTT_MAX_QUEUED_MESSAGES, fsync: config.DATA_FSYNC },
    nodeId,
    redisUrl: config.REDIS_URL,
    alink: { catalog, key: alinkKey, dedupWindowMs: config.INGEST_DEDUP_WINDOW_S * 1000, maxPayloadBytes: config.INGEST_MAX_PAYLOAD_BYTES },
  });
  await broker.start();
  // After the broker has closed (shutdown), events are still written; only their MQTT copy is skipped.
  const publish = (topic: string, payload: string, o: { qos: 0 | 1 }) => (broker.aedes.closed ? Promise.resolve() : broker.publish(topic, payload, o));
  const rules = new RuleEngine({
    db,
    catalog,
    log: log.child({ component: 'rules' }),
    clock: opts.clock,
    commandTimeoutMs: config.RULES_COMMAND_TIMEOUT_S * 1000,
    publish,
    bus,
    directory,
    cluster: cluster && { here: (id) => broker.isOnline(id), ownsAway: (id) => cluster.ownsAway(id) },
  });
  // A device that connects here may come from another node: its rule state is taken from the store.
  if (cluster) broker.setHooks({ onPresence: (id, online) => online && rules.adopt(id) });
  const workItems = new WorkItems({
    db,
    log: log.child({ component: 'work-items' }),
    clock: rules.clock,
    bus,
    directory,
    ruleFor: (deviceId, ruleId) => rules.effectiveRules(deviceId)?.find((r) => r.id === ruleId),
    typeName: (type) => catalog.get(type)?.definition.name,
    sla: parseSla(config.WORK_ITEM_SLA),
    reportInS: config.WHISTLE_REPORT_IN_S,
    photosDir: path.join(config.DATA_DIR, 'photos'),
    cluster,
  });
  broker.onCommand(commandHandler(workItems, log.child({ component: 'commands' })));
  // The bus's consumers beyond the work-item layer: MQTT for services, metrics (SSE subscribes per client).
  const influx = sinks.find((x): x is InfluxSink => x instanceof InfluxSink);
  const extensions = [
    new MqttFanout(bus, publish, log.child({ component: 'mqtt-fanout' })),
    ...(cluster ? [new EventRelay(bus, config.REDIS_URL!, nodeId, log.child({ component: 'relay' }))] : []),
    ...(influx ? [new PlatformMetrics({ db, ingest, bus, sink: influx, log: log.child({ component: 'metrics' }), everyMs: config.METRICS_EVERY_S * 1000 })] : []),
  ];
  // Every consumer listens before anything can happen: resumed alarms and SLA timers may fire at start.
  for (const x of extensions) await x.start();
  await workItems.start();
  await rules.start();
  ingest.onReading((r) => rules.handleReading(r));
  ingest.onAck((deviceId, ack) => rules.handleAck(deviceId, ack));
  let listeners: Listeners | undefined;
  let app: App | undefined;
  let flows: NotificationFlows | undefined;
  try {
    // What the journal holds beyond each sink's checkpoint (a crash) goes in before any device connects.
    await ingest.start();
    listeners = await startListeners(broker, {
      host: config.MQTT_HOST,
      tcpPort: config.MQTT_PORT,
      wsPort: config.MQTT_WS_PORT,
      tlsPort: config.MQTT_TLS_PORT,
      tlsCert: config.MQTT_TLS_CERT,
      tlsKey: config.MQTT_TLS_KEY,
      maxPacketBytes: config.MQTT_MAX_PACKET_BYTES,
    });
    const editor = config.NOTIFY_FLOWS && config.NODE_RED_EDITOR;
    app = await buildApp({ db, catalog, broker, ingest, rules, workItems, bus, directory, limits, trustProxy: config.HTTP_TRUST_PROXY, adminTokenSha256, notifications: { status: () => flows?.status() }, listeners, nodeId }, log);
    if (editor) await proxyEditor(app, editorSocket(flowsDir(config)));
    await app.listen({ port: config.HTTP_PORT, host: config.HTTP_HOST });
    if (config.NOTIFY_FLOWS) {
      flows = await startFlows(config, db, broker, log, { http: (app.server.address() as AddressInfo).port, mqtt: listeners.ports.mqtt }, adminTokenSha256, editor, opts.flowsWaitMs ?? 30_000);
    }
  } catch (err) {
    await flows?.stop();
    await listeners?.close();
    await app?.close();
    await broker.close();
    await ingest.close();
    await rules.close();
    for (const x of extensions) await x.stop();
    workItems.close();
    await cluster?.stop();
    await db.close();
    throw err;
  }
  const ports = { http: (app.server.address() as AddressInfo).port, ...listeners.ports };
  log.info({ ports, dataDir: config.DATA_DIR, deviceTypes: catalog.ids(), ...(cluster ? { nodeId, cluster: true } : {}) }, 'platform started');

  const retentionMs = config.READINGS_RETENTION_DAYS * 86_400_000;
  const prune = async () => {
    try {
      const olderThan = new Date(Date.now() - retentionMs);
      const deleted = { readings: await pruneReadings(db.background, olderThan), presence: await prunePresence(db.background, olderThan) };
      if (deleted.readings || deleted.presence) log.info({ deleted, retentionDays: config.READINGS_RETENTION_DAYS }, 'readings and presence history pruned');
    } catch (err) {
      log.error({ err }, 'readings pruning failed');
    }
  };
  const pruneTimer = setInterval(prune, 3_600_000).unref();
  void prune();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(pruneTimer);
      // The flows first, while the API they record through is still up.
      await flows?.stop();
      // Stop taking new work first, then write out everything already acknowledged.
      await app!.close();
      await listeners!.close();
      await broker.close();
      await ingest.close();
      await rules.close();
      await workItems.idle();
      workItems.close();
      for (const x of extensions) await x.stop();
      await cluster?.stop();
      await db.close();
      log.info({ stats: ingest.stats(), rules: rules.stats() }, 'platform stopped');
    })());

  return { config, log, catalog, db, broker, ingest, rules, workItems, bus, directory, app, flows, ports, credentialsFile, generatedAdminToken, stop };
}

/**
 * Where readings go: the embedded store (the default; READINGS_EMBEDDED=false turns it off) and,
 * when INFLUX_URL is set, InfluxDB through the v2 API (token, org, bucket) or the v1 API (database).
 */
function readingSinks(config: Config, log: Logger, db: Db, nodeId: string, tags: (deviceId: string) => PointTags | undefined): ReadingSink[] {
  const sinks: ReadingSink[] = [];
  if (config.READINGS_EMBEDDED) sinks.push(new EmbeddedSink(db, log.child({ component: 'sink' }), nodeId));
  if (config.INFLUX_URL) {
    if (!config.INFLUX_DATABASE && !(config.INFLUX_ORG && config.INFLUX_BUCKET)) throw new Error('INFLUX_URL: give INFLUX_ORG and INFLUX_BUCKET (v2 API) or INFLUX_DATABASE (v1 API)');
    const writer = config.INFLUX_DATABASE
      ? new V1Writer({ url: config.INFLUX_URL, database: config.INFLUX_DATABASE, username: config.INFLUX_USERNAME, password: config.INFLUX_PASSWORD })
      : new V2Writer({ url: config.INFLUX_URL, token: config.INFLUX_TOKEN, org: config.INFLUX_ORG ?? '', bucket: config.INFLUX_BUCKET ?? '' });
    sinks.push(new InfluxSink({ writer, tags, spoolDir: path.join(config.DATA_DIR, 'spool'), log: log.child({ component: 'influx' }) }));
  }
  if (sinks.length === 0) throw new Error('READINGS_EMBEDDED=false and no INFLUX_URL: readings would go nowhere');
  return sinks;
}

/**
 * The notification flows with fresh credentials, told where the platform is (loopback: the child
 * runs beside it), which channels are on and how to pace them; the start waits (bounded) until they
 * listen on the broker, so no event of the first seconds goes unheard.
 */
async function startFlows(config: Config, db: Db, broker: PlatformBroker, log: Logger, ports: { http: number; mqtt: number }, adminTokenSha256: Buffer, editor: boolean, waitMs: number): Promise<NotificationFlows | undefined> {
  const flowsLog = log.child({ component: 'flows' });
  const creds = await flowsCredentials(db);
  if ('refused' in creds) {
    flowsLog.warn({ reason: creds.refused }, 'notification flows not started');
    return undefined;
  }
  const env: Record<string, string> = {
    PLATFORM_MQTT_URL: `mqtt://${loopback(config.MQTT_HOST)}:${ports.mqtt}`,
    PLATFORM_MQTT_USERNAME: creds.mqttUsername,
    PLATFORM_MQTT_PASSWORD: creds.mqttPassword,
    PLATFORM_MQTT_CLIENT_ID: FLOWS_MQTT_USERNAME,
    PLATFORM_API_URL: `http://${loopback(config.HTTP_HOST)}:${ports.http}`,
    PLATFORM_API_TOKEN: creds.apiToken,
    // The editor's password check, only when there is an editor.
    ...(editor ? { PLATFORM_ADMIN_TOKEN_SHA256: adminTokenSha256.toString('hex') } : {}),
    PUBLIC_URL: config.PUBLIC_URL ?? `http://localhost:${ports.http}`,
    NOTIFY_DIGEST_S: String(config.NOTIFY_DIGEST_S),
    NOTIFY_RETRIES: String(config.NOTIFY_RETRIES),
    NOTIFY_RETRY_BASE_MS: String(config.NOTIFY_RETRY_BASE_MS),
    NOTIFY_ROBOT_PER_MIN: String(config.NOTIFY_ROBOT_PER_MIN),
    NOTIFY_MAX_AGE_S: String(config.NOTIFY_MAX_AGE_S),
  };
  for (const k of ['WECOM_WEBHOOK_URL', 'DINGTALK_WEBHOOK_URL', 'DINGTALK_SECRET', 'SMS_GATEWAY_URL', 'SMS_GATEWAY_TOKEN', 'NODE_RED_CREDENTIAL_SECRET'] as const) if (config[k]) env[k] = config[k]!;
  const flows = new NotificationFlows({ log: flowsLog, userDir: flowsDir(config), env, aedes: broker.aedes, clientId: FLOWS_MQTT_USERNAME, editor });
  flows.start();
  const listening = await flows.listening(waitMs);
  const status = flows.status();
  if (listening) flowsLog.info({ channels: status.channels, editor: status.editor ? '/flows' : false }, 'notification flows listening');
  else flowsLog.warn({ waitedMs: waitMs }, 'notification flows not listening yet; health says degraded until they are');
  return flows;
}

/** Node-RED's own folder: its context, sessions, credentials and the editor's socket. */
const flowsDir = (config: Config) => path.join(config.DATA_DIR, 'node-red');

/** Where a child on this machine reaches a listener bound to `host`. */
const loopback = (host: string) => (host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host);

/** WORK_ITEM_SLA over the defaults, severity by severity; a bad value stops the start, named. */
function parseSla(json: string | undefined): Sla {
  if (!json) return DEFAULT_SLA;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`WORK_ITEM_SLA: not JSON: ${(err as Error).message}`);
  }
  const parsed = slaSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`WORK_ITEM_SLA: ${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`);
  return { ...DEFAULT_SLA, ...parsed.data };
}

async function adminToken(db: Db, config: Config): Promise<{ digest: Buffer; generated?: string }> {
  if (config.PLATFORM_ADMIN_TOKEN) return { digest: tokenDigest(config.PLATFORM_ADMIN_TOKEN) };
  const stored = await getSetting(db, 'admin_token_sha256');
  if (stored) return { digest: Buffer.from(stored, 'hex') };
  const token = generateSecret();
  const digest = tokenDigest(token);
  await setSetting(db, 'admin_token_sha256', digest.toString('hex'));
  return { digest, generated: token };
}
