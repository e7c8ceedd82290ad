import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { onTestFinished } from 'vitest';
import { loadConfig, type Config } from '../../core/config.ts';
import { listDeadLetters, type DeadLetter } from '../../core/store/dead-letters.ts';
import { createLogger } from '../../core/logger.ts';
import type { DeviceCredential } from '../../core/seed.ts';
import { startPlatform, type Platform, type StartOptions } from '../../platform.ts';
import { readCredentials } from '../../simulators/credentials.ts';
import { databaseFor } from './store.ts';

export const SMALL_SITE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'small-site.json');
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestPlatform extends Platform {
  dataDir: string;
  credentials: DeviceCredential[];
  cred(type: string, n?: number): DeviceCredential;
  mqttUrl: string;
  /** A JSON call; `headers` adds to the request's (Accept-Language). */
  api<T = any>(method: string, url: string, body?: unknown, token?: string | null, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  /** Uploads a photo as a phone does (multipart, one file). */
  upload<T = any>(bytes: Uint8Array, filename: string, token?: string | null, type?: string): Promise<{ status: number; body: T }>;
  /** Stops the platform and removes its data folder (unless `keepData`). */
  dispose(keepData?: boolean): Promise<void>;
}

/** A whole platform on free loopback ports in a temp folder, seeded from the small test site. */
export async function startTestPlatform(overrides: Partial<Config> = {}, opts: StartOptions & { dataDir?: string } = {}): Promise<TestPlatform> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'sps-test-'));
  // TEST_STORE=postgres: the same suite on a PostgreSQL server (a database per data folder).
  const database = await databaseFor(dataDir);
  const config = loadConfig(
    {},
    { ...(database ? { DATABASE_URL: database } : {}), HTTP_PORT: 0, MQTT_PORT: 0, MQTT_WS_PORT: 0, MQTT_TLS_PORT: 0, HTTP_HOST: '127.0.0.1', MQTT_HOST: '127.0.0.1', DATA_DIR: dataDir, SITE_FILE: SMALL_SITE, PLATFORM_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'silent', HTTP_RATE_PER_TOKEN: 100_000, NOTIFY_FLOWS: false, ...overrides },
  );
  const p = await startPlatform(config, { log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'), ...opts });
  const credentials = readCredentials(p.credentialsFile);
  const base = `http://127.0.0.1:${p.ports.http}`;
  return Object.assign(p, {
    dataDir,
    credentials,
    mqttUrl: `mqtt://127.0.0.1:${p.ports.mqtt}`,
    cred(type: string, n = 1) {
      const c = credentials.filter((x) => x.type === type)[n - 1];
      if (!c) throw new Error(`no ${type} #${n} in the test site`);
      return c;
    },
    async api(method: string, url: string, body?: unknown, token: string | null = ADMIN_TOKEN, extraHeaders: Record<string, string> = {}) {
      const headers: Record<string, string> = { ...extraHeaders };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(base + url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    /** Uploads a photo as a phone does (multipart, one file); answers like `api`. */
    async upload(bytes: Uint8Array, filename: string, token: string | null = ADMIN_TOKEN, type = 'image/jpeg') {
      const form = new FormData();
      form.append('file', new Blob([Buffer.from(bytes)], { type }), filename);
      const res = await fetch(`${base}/api/v1/photos`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {}, body: form });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async dispose(keepData = false) {
      await p.stop();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** Connects as a device (or service account) and resolves once CONNACK 0 arrives; rejects with the refusal. */
export function connect(url: string, username: string, password: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { clientId: username, username, password, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

export const connectDevice = (p: TestPlatform, c: DeviceCredential, opts: IClientOptions = {}) => connect(p.mqttUrl, c.id, c.secret, opts);

/** Polls `fn` until it returns a truthy value, or fails after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 5000, what = 'condition'): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Exclude<T, false | null | undefined | 0 | ''>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The QoS granted per filter, in order; 128 where the broker refused (mqtt.js rejects the whole call then). */
export async function grantedQos(client: MqttClient, subs: Record<string, { qos: 0 | 1 }>): Promise<number[]> {
  try {
    return (await client.subscribeAsync(subs)).map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: (number | { qos: number })[] } }).packet?.granted;
    if (!granted) throw err;
    return granted.map((g) => (typeof g === 'number' ? g : g.qos));
  }
}

/** The latest properties of a device, as `GET /api/v1/devices/:id` shows them. */
export async function latestOf(p: TestPlatform, deviceId: string): Promise<Record<string, unknown>> {
  return (await p.api('GET', `/api/v1/devices/${deviceId}`)).body.latest;
}

/** Waits until the device has at least one dead letter with that reason; returns them, newest first. */
export function deadLettersFor(p: TestPlatform, deviceId: string, reason: string, timeoutMs = 5000): Promise<(DeadLetter & { id: number })[]> {
  return eventually(async () => {
    const letters = await listDeadLetters(p.db, { deviceId, reason });
    return letters.length > 0 && letters;
  }, timeoutMs, `${reason} dead letter of ${deviceId}`);
}

/** A temp folder for the running test, removed when it ends. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The smallest images of each kind a phone might send: their first bytes are what the platform reads. */
export const TINY_IMAGES = {
  jpeg: Uint8Array.from(Buffer.from('/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/yQALCAABAAEBAREA/8wABgAQEAX/2gAIAQEAAD8A0s8g/9k=', 'base64')),
  png: Uint8Array.from(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')),
  webp: Uint8Array.from(Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64')),
};
