import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Catalog, DeviceType } from '../devices/lib/catalog.ts';
import { isStorableText } from '../core/storable.ts';

/**
 * Alibaba Cloud IoT's Alink JSON protocol over MQTT, beside our own (DESIGN §3): firmware built for
 * Alibaba's platform connects by changing only its host name. This module only translates, both
 * ways: CONNECT's signature, `/sys/{productKey}/{deviceName}/thing/…` requests into our telemetry,
 * event and command-answer payloads (which then go through the same ingest, validation, dead
 * letters, flood limits and rules as a native device's), our commands into Alink service calls,
 * and ingest's verdicts into Alink replies. productKey is the catalog type id, deviceName the
 * device id.
 */

/** The reply codes Alibaba documents for devices ("设备端接收的错误码"), the ones we answer with. */
export const ALINK_CODES = {
  ok: { code: 200, message: 'success' },
  /** Empty or malformed params, values of the wrong type or outside the thing model's range. */
  badParams: { code: 460, message: 'request parameter error' },
  /** Too many invalid messages: the device is being timed out. */
  tooMany: { code: 429, message: 'too many requests' },
  /** The payload is not JSON. */
  notJson: { code: 6207, message: 'payload is not JSON' },
  /** No method, or one that does not match the topic, or one this platform does not serve. */
  noMethod: { code: 6300, message: 'method not found' },
  /** A property identifier the thing model (the catalog type) does not have. */
  noProperty: { code: 6321, message: 'property identifier not found' },
  /** An event identifier the thing model does not have. */
  noEvent: { code: 6322, message: 'event identifier not found' },
  /** `time` more than 24 h ahead of the platform's clock. */
  timeAhead: { code: 6328, message: 'time is more than 24 h ahead' },
  /** A message id this device used before (Alibaba: ids are unique per device). */
  replayed: { code: 6327, message: 'message id already used' },
} as const;
export type AlinkCode = (typeof ALINK_CODES)[keyof typeof ALINK_CODES];

/** What ingest's reasons become for the device (ingest/validate.ts's RejectReason). */
export function codeForReason(reason: string | undefined): AlinkCode {
  switch (reason) {
    case 'unknown_property':
      return ALINK_CODES.noProperty;
    case 'unknown_event':
      return ALINK_CODES.noEvent;
    case 'invalid_json':
      return ALINK_CODES.notJson;
    default:
      return ALINK_CODES.badParams;
  }
}

export const TIME_AHEAD_LIMIT_MS = 24 * 3_600_000;

// ---------------------------------------------------------------------------------------------
// CONNECT

/** What an Alink CONNECT says about itself. */
export interface AlinkConnect {
  /** The `{clientId}` part (a MAC, an SN, `pk&dn`): signed, so the device cannot be another. */
  clientId: string;
  signmethod: string;
  timestamp?: string;
  productKey: string;
  deviceName: string;
}

/** Usernames of Alink devices: `{deviceName}&{productKey}` (our device ids have no `&`). */
export const isAlinkUsername = (username: string) => username.includes('&');

/** Parses `{clientId}|securemode=3,signmethod=hmacsha1,timestamp=…|` and `{deviceName}&{productKey}`. */
export function parseAlinkConnect(mqttClientId: string, username: string): AlinkConnect | undefined {
  const amp = username.indexOf('&');
  const bar = mqttClientId.indexOf('|');
  if (amp <= 0 || amp === username.length - 1 || bar <= 0 || !mqttClientId.endsWith('|')) return undefined;
  const params = new Map<string, string>();
  for (const kv of mqttClientId.slice(bar + 1, -1).split(',')) {
    const eq = kv.indexOf('=');
    if (eq > 0) params.set(kv.slice(0, eq).trim(), kv.slice(eq + 1).trim());
  }
  const signmethod = params.get('signmethod');
  if (!signmethod) return undefined;
  return { clientId: mqttClientId.slice(0, bar), signmethod: signmethod.toLowerCase(), timestamp: params.get('timestamp'), deviceName: username.slice(0, amp), productKey: username.slice(amp + 1) };
}

const HMACS: Record<string, string> = { hmacsha1: 'sha1', hmacsha256: 'sha256', hmacmd5: 'md5' };

/** Whether the password is Alibaba's signature: the HMAC, keyed by the deviceSecret, of the parameters sorted by name, name and value joined. */
export function alinkSignatureOk(c: AlinkConnect, deviceSecret: string, password: Buffer): boolean {
  const algorithm = HMACS[c.signmethod];
  if (!algorithm) return false;
  const content = `clientId${c.clientId}deviceName${c.deviceName}productKey${c.productKey}${c.timestamp === undefined ? '' : `timestamp${c.timestamp}`}`;
  const expected = Buffer.from(createHmac(algorithm, deviceSecret).update(content).digest('hex'));
  const given = Buffer.from(password.toString('utf8').toLowerCase());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// ---------------------------------------------------------------------------------------------
// Requests from the device

/** An Alink device's topics, decided at CONNECT. */
export interface AlinkDevice {
  productKey: string;
  deviceName: string;
  /** `/sys/{productKey}/{deviceName}/`: everything it may publish starts here. */
  sys: string;
  /** Filters it may subscribe to: its own `/sys/…`, and the shadow and session topics Alibaba's SDK asks for at connect. */
  scopes: string[];
  /** The CONNECT's timestamp: a new one is a restarted device, whose message ids start again. */
  stamp: string;
}

export function alinkDevice(productKey: string, deviceName: string, stamp = ''): AlinkDevice {
  const sys = `/sys/${productKey}/${deviceName}/`;
  return { productKey, deviceName, sys, scopes: [`${sys}#`, `/shadow/get/${productKey}/${deviceName}`, `/ext/session/${productKey}/${deviceName}/#`], stamp };
}

/** What to answer the device: on `{request topic}_reply`, the request's id echoed exactly. */
export interface AlinkReplyTo {
  topic: string;
  id: unknown;
  method?: string;
}

/** A request translated into our protocol: one payload per moment (properties posted with different `time`s). */
export interface AlinkTranslated {
  kind: 'telemetry' | 'event' | 'cmd/ack';
  /** Our protocol's payloads (DESIGN §3), for ingest and for subscribers of `v1/…`. */
  payloads: Buffer[];
  replyTo?: AlinkReplyTo;
}

/** A request the adapter refuses itself: dead-lettered with `reason`, answered with `answer`. */
export interface AlinkRefused {
  refused: true;
  reason: string;
  detail: string;
  answer: AlinkCode;
  replyTo?: AlinkReplyTo;
  /** Counted against the device's flood limit (a replay is not: it is a resend). */
  invalid: boolean;
}

export type AlinkUplink = AlinkTranslated | AlinkRefused | { notAllowed: true };

const EVENT_POST = /^thing\/event\/([A-Za-z_][A-Za-z0-9_]{0,49})\/post$/;
const SERVICE_REPLY = /^thing\/service\/([A-Za-z_][A-Za-z0-9_.]{0,49})_reply$/;
/** Message ids remembered per device (Alibaba: unique per device; the SDK counts from 1 in each process). */
const IDS_PER_DEVICE = 1000;
/** Devices whose ids are remembered; the oldest is forgotten first. */
const DEVICES_REMEMBERED = 100_000;
/** Commands sent waiting for a `_reply`, across devices. */
const COMMANDS_WAITING = 10_000;

export class AlinkAdapter {
  /** deviceId → the CONNECT stamp and the ids it used, with when. */
  private readonly seen = new Map<string, { stamp: string; ids: Map<string, number> }>();
  /** `{deviceId}\n{alink id}` → our command id, for the answer. */
  private readonly commands = new Map<string, string>();
  private nextCommandId = 1;

  constructor(
    private readonly catalog: Catalog,
    private readonly o: { dedupWindowMs: number; maxPayloadBytes: number; now?: () => number },
  ) {}

  /** A publish of an Alink device, translated, refused with its code, or not its topic at all. */
  uplink(deviceId: string, a: AlinkDevice, topic: string, payload: Buffer): AlinkUplink {
    if (!topic.startsWith(a.sys)) return { notAllowed: true };
    const rest = topic.slice(a.sys.length);
    const type = this.catalog.get(a.productKey);
    if (!type) return { notAllowed: true };
    const service = SERVICE_REPLY.exec(rest);
    if (service) return this.serviceReply(deviceId, payload);
    // Answers and other replies are not requests: nothing to answer.
    const replyTo: AlinkReplyTo = { topic: `${topic}_reply`, id: null };
    const isRequest = !rest.endsWith('_reply') && !rest.startsWith('rrpc/');
    const refuse = (answer: AlinkCode, reason: string, detail: string, invalid = true): AlinkRefused => ({ refused: true, reason, detail, answer, replyTo: isRequest ? replyTo : undefined, invalid });

    // The same bound as ours (INGEST_MAX_PAYLOAD_BYTES), before anything is parsed.
    if (payload.length > this.o.maxPayloadBytes) return refuse(ALINK_CODES.badParams, 'payload_too_large', `${payload.length} bytes, limit ${this.o.maxPayloadBytes}`);
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return refuse(ALINK_CODES.notJson, 'invalid_json', (err as Error).message);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return refuse(ALINK_CODES.notJson, 'invalid_envelope', 'payload must be a JSON object');
    const msg = body as { id?: unknown; version?: unknown; params?: unknown; method?: unknown };
    if ((typeof msg.id === 'string' && msg.id.length > 0 && msg.id.length <= 200 && isStorableText(msg.id)) || (typeof msg.id === 'number' && Number.isSafeInteger(msg.id) && msg.id >= 0)) replyTo.id = msg.id;
    else return refuse(ALINK_CODES.badParams, 'invalid_envelope', 'id: a string of at most 200 characters (Alink: a number as a string) is required');
    const properties = rest === 'thing/event/property/post';
    const event = properties ? null : EVENT_POST.exec(rest);
    const method = properties ? 'thing.event.property.post' : event ? `thing.event.${event[1]}.post` : undefined;
    replyTo.method = method ?? (typeof msg.method === 'string' && isStorableText(msg.method) ? msg.method.slice(0, 100) : undefined);
    if (!method) return refuse(ALINK_CODES.noMethod, 'alink_unsupported', `${rest} is not served here: properties, events and service replies are`);
    if (msg.method !== undefined && msg.method !== method) return refuse(ALINK_CODES.noMethod, 'invalid_envelope', `method: ${String(msg.method)} does not match the topic (${method})`);
    if (typeof msg.params !== 'object' || msg.params === null || Array.isArray(msg.params)) return refuse(ALINK_CODES.badParams, 'invalid_envelope', 'params: must be an object');
    if (this.replayed(deviceId, a.stamp, String(msg.id))) return refuse(ALINK_CODES.replayed, 'alink_replayed_id', `id ${String(msg.id)} was used before by this device`, false);

    const now = (this.o.now ?? Date.now)();
    const out = event ? this.event(type, event[1]!, msg.params as Record<string, unknown>, now) : this.properties(type, msg.params as Record<string, unknown>, now);
    if ('refused' in out) return { ...out, replyTo };
    return { kind: event ? 'event' : 'telemetry', payloads: out.payloads, replyTo };
  }

  /** `{"Temp": 21.5, "Alarm": {"value": 1, "time": …}}` → one telemetry payload per moment. */
  private properties(type: DeviceType, params: Record<string, unknown>, now: number): { payloads: Buffer[] } | AlinkRefused {
    const entries = Object.entries(params);
    if (entries.length === 0) return refusal(ALINK_CODES.badParams, 'empty_props', 'params: must name at least one property');
    const byTime = new Map<number | undefined, Record<string, unknown>>();
    for (const [identifier, raw] of entries) {
      const prop = type.alink.props.get(identifier);
      if (!prop) return refusal(ALINK_CODES.noProperty, 'unknown_property', `params.${identifier}: ${type.id} has no such property`);
      const timed = typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'value' in raw;
      const time = timed ? (raw as { time?: unknown }).time : undefined;
      if (time !== undefined && !(typeof time === 'number' && Number.isSafeInteger(time) && time >= 0)) return refusal(ALINK_CODES.badParams, 'invalid_envelope', `params.${identifier}.time: ms since the epoch`);
      if (typeof time === 'number' && time > now + TIME_AHEAD_LIMIT_MS) return refusal(ALINK_CODES.timeAhead, 'alink_time_ahead', `params.${identifier}.time: ${new Date(time).toISOString()} is more than 24 h ahead`);
      const value = timed ? (raw as { value: unknown }).value : raw;
      const group = byTime.get(time as number | undefined) ?? {};
      group[prop] = fromAlink(type.definition.props[prop]!.kind, value);
      byTime.set(time as number | undefined, group);
    }
    return { payloads: [...byTime].map(([ts, props]) => Buffer.from(JSON.stringify(ts === undefined ? { props } : { ts, props }))) };
  }

  /** `{"value": {...}, "time": …}` (or the fields alone, as the SDK's examples post) → an event payload. */
  private event(type: DeviceType, identifier: string, params: Record<string, unknown>, now: number): { payloads: Buffer[] } | AlinkRefused {
    const name = type.alink.events.get(identifier);
    if (!name) return refusal(ALINK_CODES.noEvent, 'unknown_event', `${identifier}: ${type.id} has no such event`);
    const wrapped = typeof params.value === 'object' && params.value !== null && !Array.isArray(params.value);
    const time = params.time;
    if (time !== undefined && !(typeof time === 'number' && Number.isSafeInteger(time) && time >= 0)) return refusal(ALINK_CODES.badParams, 'invalid_envelope', 'params.time: ms since the epoch');
    if (typeof time === 'number' && time > now + TIME_AHEAD_LIMIT_MS) return refusal(ALINK_CODES.timeAhead, 'alink_time_ahead', `params.time: ${new Date(time).toISOString()} is more than 24 h ahead`);
    const fields = wrapped ? (params.value as Record<string, unknown>) : Object.fromEntries(Object.entries(params).filter(([k]) => k !== 'time'));
    const specs = type.definition.events[name]!;
    const data = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, specs[k] ? fromAlink(specs[k].kind, v) : v]));
    return { payloads: [Buffer.from(JSON.stringify(time === undefined ? { event: name, data } : { ts: time, event: name, data }))] };
  }

  /** `{"id", "code", "data"?, "message"?}` on `thing/service/{name}_reply` → our `cmd/ack`. */
  private serviceReply(deviceId: string, payload: Buffer): AlinkUplink {
    if (payload.length > this.o.maxPayloadBytes) return { refused: true, reason: 'payload_too_large', detail: `${payload.length} bytes, limit ${this.o.maxPayloadBytes}`, answer: ALINK_CODES.badParams, invalid: true };
    let body: { id?: unknown; code?: unknown; message?: unknown };
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return { refused: true, reason: 'invalid_json', detail: (err as Error).message, answer: ALINK_CODES.notJson, invalid: true };
    }
    const key = `${deviceId}\n${String(body?.id)}`;
    const commandId = this.commands.get(key);
    if (!commandId) return { refused: true, reason: 'unknown_command', detail: `id ${String(body?.id)}: no command of ours waits for this answer`, answer: ALINK_CODES.badParams, invalid: true };
    this.commands.delete(key);
    const code = typeof body.code === 'number' && Number.isInteger(body.code) ? body.code : undefined;
    const ack = { id: commandId, ok: code === ALINK_CODES.ok.code, ...(code === undefined ? {} : { code }), ...(typeof body.message === 'string' ? { message: body.message.slice(0, 500) } : {}) };
    return { kind: 'cmd/ack', payloads: [Buffer.from(JSON.stringify(ack))] };
  }

  /** Whether (device, id) was seen within the window; remembers it if not. A new CONNECT stamp starts afresh. */
  private replayed(deviceId: string, stamp: string, id: string): boolean {
    const now = (this.o.now ?? Date.now)();
    let entry = this.seen.get(deviceId);
    if (!entry || entry.stamp !== stamp) {
      this.seen.delete(deviceId);
      if (this.seen.size >= DEVICES_REMEMBERED) this.seen.delete(this.seen.keys().next().value!);
      entry = { stamp, ids: new Map() };
      this.seen.set(deviceId, entry);
    }
    const at = entry.ids.get(id);
    if (at !== undefined && now - at < this.o.dedupWindowMs) return true;
    entry.ids.delete(id);
    if (entry.ids.size >= IDS_PER_DEVICE) entry.ids.delete(entry.ids.keys().next().value!);
    entry.ids.set(id, now);
    return false;
  }

  /**
   * Our command (`{"id","name","params"}` on `v1/{type}/{id}/cmd`) as an Alink service call on
   * `/sys/{pk}/{dn}/thing/service/{name}`, with a numeric id (as Alink's are) remembered for the answer.
   */
  downlink(deviceId: string, a: AlinkDevice, payload: Buffer): { topic: string; payload: Buffer } | undefined {
    let cmd: { id?: unknown; name?: unknown; params?: unknown };
    try {
      cmd = JSON.parse(payload.toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof cmd.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,49}$/.test(cmd.name)) return undefined;
    const id = String(this.nextCommandId++);
    if (typeof cmd.id === 'string') {
      if (this.commands.size >= COMMANDS_WAITING) this.commands.delete(this.commands.keys().next().value!);
      this.commands.set(`${deviceId}\n${id}`, cmd.id);
    }
    const call = { id, version: '1.0', params: cmd.params ?? {}, method: `thing.service.${cmd.name}` };
    return { topic: `${a.sys}thing/service/${cmd.name}`, payload: Buffer.from(JSON.stringify(call)) };
  }

  /** The reply Alibaba's devices expect: `{"code","data","id","message","method","version"}`. */
  static reply(to: AlinkReplyTo, answer: AlinkCode, detail?: string): Buffer {
    const message = answer.code === ALINK_CODES.ok.code || !detail ? answer.message : `${answer.message}: ${detail}`;
    return Buffer.from(JSON.stringify({ code: answer.code, data: {}, id: to.id, message, ...(to.method ? { method: to.method } : {}), version: '1.0' }));
  }
}

const refusal = (answer: AlinkCode, reason: string, detail: string): AlinkRefused => ({ refused: true, reason, detail, answer, invalid: true });

/** Alink's bool is 0 or 1: ours is true or false. Anything else goes on as sent, for validation to judge. */
function fromAlink(kind: string, v: unknown): unknown {
  if (kind === 'boolean' && (v === 0 || v === 1)) return v === 1;
  return v;
}
