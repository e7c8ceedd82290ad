import path from 'node:path';
import { z } from 'zod';

/** Port number from the environment; 0 means "any free port". */
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const optionalString = z.string().min(1).optional();

/**
 * Every setting the platform reads, with its default. DESIGN §5 lists the public ones;
 * the README's configuration table is written from this schema.
 */
export const configSchema = z.object({
  HTTP_PORT: port(8080),
  HTTP_HOST: z.string().default('127.0.0.1'),
  MQTT_PORT: port(1883),
  MQTT_WS_PORT: port(8083),
  MQTT_TLS_PORT: port(8883),
  MQTT_HOST: z.string().default('127.0.0.1'),
  MQTT_TLS_CERT: optionalString,
  MQTT_TLS_KEY: optionalString,
  /** Largest MQTT packet accepted; a bigger one closes the connection before it is buffered. */
  MQTT_MAX_PACKET_BYTES: z.coerce.number().int().min(1024).default(256 * 1024),
  /** Keepalive the broker imposes on clients that ask for 0 (none) or for more than this. */
  MQTT_MAX_KEEPALIVE_S: z.coerce.number().int().min(1).max(65535).default(600),
  /** Largest device message payload ingest accepts; larger ones are dead-lettered. */
  INGEST_MAX_PAYLOAD_BYTES: z.coerce.number().int().min(256).default(16 * 1024),
  /**
   * fdatasync the ingest journal and the broker's session log at every group commit (the default): a
   * PUBACK then means the message survives a power cut. `false` still survives a crash of the
   * platform (`kill -9`: the kernel has it), not a power cut.
   */
  DATA_FSYNC: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  /** A reading resent with the same device and seq within this many seconds is stored once. */
  INGEST_DEDUP_WINDOW_S: z.coerce.number().positive().default(600),
  /** QoS 1 messages kept for one clean=false client (a service account away); beyond, new ones are dropped and counted. */
  MQTT_MAX_QUEUED_MESSAGES: z.coerce.number().int().min(1).default(10_000),
  /** Invalid messages one device may send per minute; past that it is disconnected for a growing time-out. */
  MQTT_MAX_INVALID_PER_MIN: z.coerce.number().int().min(1).default(120),
  /** Dead letters older than this many days are deleted. */
  DEAD_LETTERS_RETENTION_DAYS: z.coerce.number().positive().default(7),
  /** Health stays `degraded` this many seconds after a sink refused a row (dead-lettered as sink_rejected). */
  HEALTH_REJECTIONS_WINDOW_S: z.coerce.number().positive().default(60),
  /** At most this many MB of dead letters are kept; the oldest go first. */
  DEAD_LETTERS_MAX_MB: z.coerce.number().positive().default(100),
  /** Failed authentications (HTTP and MQTT) from one address in a minute before it is blocked (1 s, doubling to AUTH_BLOCK_MAX_S). */
  AUTH_FAILURES_PER_MIN_PER_ADDRESS: z.coerce.number().int().positive().default(30),
  /** Failed authentications for one account (an MQTT username) in a minute before it is blocked. */
  AUTH_FAILURES_PER_MIN_PER_ACCOUNT: z.coerce.number().int().positive().default(20),
  AUTH_BLOCK_MAX_S: z.coerce.number().positive().default(300),
  /** Behind a reverse proxy: take the client's address from X-Forwarded-For (Fastify's trustProxy) for the limits. */
  HTTP_TRUST_PROXY: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  /** API requests per second one token may make (bursts of twice that); more get 429. */
  HTTP_RATE_PER_TOKEN: z.coerce.number().positive().default(50),
  /** Open HTTP connections from one address. */
  HTTP_MAX_CONNECTIONS_PER_ADDRESS: z.coerce.number().int().positive().default(256),
  /** Open MQTT connections from one address (a community's devices may share one NAT address). */
  MQTT_MAX_CONNECTIONS_PER_ADDRESS: z.coerce.number().int().positive().default(2000),
  /** Live event streams (SSE) one user may hold open. */
  SSE_MAX_STREAMS_PER_USER: z.coerce.number().int().positive().default(5),
  DATA_DIR: z.string().default('./data'),
  SITE_FILE: optionalString,
  PLATFORM_ADMIN_TOKEN: optionalString,
  READINGS_RETENTION_DAYS: z.coerce.number().positive().default(7),
  /**
   * Work-item deadlines per severity, JSON: {"critical": {"acceptS": 300, "resolveS": 3600}, …}
   * (DESIGN §4 defaults when unset). Checked at start.
   */
  WORK_ITEM_SLA: optionalString,
  /** Seconds a whistled department has to report in (报到). */
  WHISTLE_REPORT_IN_S: z.coerce.number().positive().default(1800),
  /** Seconds a device has to answer a downlink command (hold_door) before the alarm records no answer. */
  RULES_COMMAND_TIMEOUT_S: z.coerce.number().positive().default(10),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `auto`: short readable lines at a terminal, pino's JSON lines otherwise (log collectors). */
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  INFLUX_URL: optionalString,
  INFLUX_TOKEN: optionalString,
  INFLUX_ORG: optionalString,
  INFLUX_BUCKET: optionalString,
  INFLUX_DATABASE: optionalString,
  INFLUX_USERNAME: optionalString,
  INFLUX_PASSWORD: optionalString,
  /** Seconds between two samples of the platform's gauges written to InfluxDB (devices online, open alarms and items). */
  METRICS_EVERY_S: z.coerce.number().positive().default(10),
  /** Keep readings in the embedded store too (the console's charts); `false` when InfluxDB has them. */
  READINGS_EMBEDDED: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  /** PostgreSQL instead of the embedded store (postgres://user:password@host:5432/db). */
  DATABASE_URL: optionalString,
  /** Cluster mode: several nodes share messages and MQTT sessions through this Redis (needs DATABASE_URL). */
  REDIS_URL: optionalString,
  /** This node's name in a cluster; default: made once and kept in DATA_DIR/node-id. */
  NODE_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)').optional(),
  /**
   * The key Alink devices' secrets are derived from (core/secrets.ts); default: made once and kept in
   * DATA_DIR/alink-secret.key. A cluster needs the same key on every node: set it there.
   */
  ALINK_SECRET_KEY: z.string().min(32, 'at least 32 characters (e.g. `openssl rand -base64 32`)').optional(),
  WECOM_WEBHOOK_URL: optionalString,
  DINGTALK_WEBHOOK_URL: optionalString,
  DINGTALK_SECRET: optionalString,
  SMS_GATEWAY_URL: optionalString,
  /** Sent as `Authorization: Bearer …` to the SMS gateway, when set. */
  SMS_GATEWAY_TOKEN: optionalString,
  /** The console's address, for links in messages (default: http://localhost:HTTP_PORT). */
  PUBLIC_URL: z.url().optional(),
  /** Run the notification flows (flows/) in a Node-RED child process with the platform. */
  NOTIFY_FLOWS: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  /** Node-RED's editor at /flows, signed in as `admin` with the admin token; off unless true. */
  NODE_RED_EDITOR: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  /** Key for Node-RED's credentials file (flows_cred.json); unset, Node-RED keeps a generated one in DATA_DIR/node-red. */
  NODE_RED_CREDENTIAL_SECRET: optionalString,
  /** At most one message per person per this many seconds; what comes meanwhile goes out as one digest. */
  NOTIFY_DIGEST_S: z.coerce.number().positive().default(60),
  /** Times a failed delivery is tried again, after NOTIFY_RETRY_BASE_MS, doubling each time. */
  NOTIFY_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  NOTIFY_RETRY_BASE_MS: z.coerce.number().int().positive().default(1000),
  /** Messages one group robot (企业微信, 钉钉) is sent per minute; more wait their turn. */
  NOTIFY_ROBOT_PER_MIN: z.coerce.number().int().positive().default(20),
  /** Events older than this (waiting on the broker while the flows were off) are not notified. */
  NOTIFY_MAX_AGE_S: z.coerce.number().positive().default(3600),
});

export type Config = z.infer<typeof configSchema>;

/** Reads the configuration from an environment (process.env by default); empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Config> = {}): Config {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid configuration: ${issue.path.join('.')}: ${issue.message}`);
  }
  const config = { ...parsed.data, ...overrides };
  return { ...config, DATA_DIR: path.resolve(config.DATA_DIR) };
}
