import type { IncomingMessage } from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import { Aedes, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes';
import type { Db } from '../core/store/db.ts';
import type { Logger } from '../core/logger.ts';
import { LogThrottle } from '../core/log-throttle.ts';
import type { Catalog } from '../devices/lib/catalog.ts';
import { AlinkAdapter, ALINK_CODES, codeForReason, type AlinkCode, type AlinkDevice, type AlinkReplyTo } from './alink.ts';
import { Authenticator } from './authenticator.ts';
import { alinkDeviceSecret } from '../core/secrets.ts';
import { DeliveryOrder } from './delivery-order.ts';
import { TopicEmitter } from './emitter.ts';
import { coalesceWrites } from './write-coalescing.ts';
import type { Identity } from './identity.ts';
import { addressKey, type Limits } from '../core/limits.ts';
import { FloodGuard } from './flood-guard.ts';
import { PacketGuard } from './packet-guard.ts';
import { SessionStore, type SessionStoreOptions } from './session-store.ts';
import { PresenceWriter } from './presence.ts';
import { RedisBus, redisSessions } from './redis-bus.ts';
import { devicePublishKind, filterCovers, filterMatches, hasForbiddenChars, parseDeviceTopic } from './topics.ts';

/** A device's telemetry, event or command answer, authorized, on its way to ingest. */
export interface DeviceMessage {
  deviceId: string;
  type: string;
  kind: 'telemetry' | 'event' | 'cmd/ack';
  topic: string;
  payload: Buffer;
  /** 0 or 1: with 1 the PUBACK waits for ingest's verdict (the message is on disk by then). */
  qos: number;
  receivedAt: number;
}

/**
 * What ingest made of a device message: `forward` it to subscribers; `invalid` (dead-lettered:
 * delivered to no one, and counted against the device's flood limit); `duplicate` (a resend of one
 * already taken: acknowledged, delivered to no one).
 */
export type Verdict = 'forward' | 'invalid' | 'duplicate';

/**
 * Ingest's answer: the verdict, known at once (validation is synchronous), and what the
 * acknowledgement waits for: `durable`, the message on disk (only the PUBACK waits: the connection
 * goes on being read, so devices pipeline and the disk's latency does not cap throughput), and
 * `room`, a full ingest buffer (the connection is not read until there is room: backpressure).
 */
export type Judgement = Verdict | { verdict: Verdict; durable?: Promise<unknown>; room?: Promise<unknown>; reason?: string; detail?: string };

/** Something the broker refused: logged (rate-limited) and handed to `onRefused` for dead letters. */
export interface Refusal {
  reason: string;
  clientId?: string;
  deviceId?: string;
  topic?: string;
  payload?: Buffer;
  detail?: string;
}

/** Where service accounts publish commands to the platform itself (README "Notifications"). */
export const PLATFORM_PREFIX = 'platform/';
export const COMMAND_PREFIX = 'platform/commands/';

/** A command a service account published to the platform; `dup`: a QoS 1 resend of one already seen. */
export interface PlatformCommand {
  username: string;
  topic: string;
  payload: Buffer;
  dup: boolean;
}

export interface BrokerHooks {
  /**
   * Called for each authorized device telemetry/event/cmd-ack message before it is acknowledged. A
   * promise holds the PUBACK and the connection's next packets until it settles: ingest uses it to
   * acknowledge only what is on disk, and for backpressure when its buffers are full.
   */
  onDeviceMessage?(msg: DeviceMessage): Judgement;
  onRefused?(r: Refusal): void;
  onPresence?(deviceId: string, online: boolean): void;
}

export interface BrokerOptions {
  db: Db;
  log: Logger;
  maxPacketBytes: number;
  maxKeepaliveS: number;
  hooks?: BrokerHooks;
  /** Messages waiting on the bus before the broker stops reading (TopicEmitter's highWater; tests lower it). */
  busHighWater?: number;
  /** Invalid messages a device may send in a minute before it is timed out (flood-guard.ts). */
  maxInvalidPerMinute: number;
  /** Where sessions of clean=false clients and retained messages are kept (session-store.ts); in memory without. */
  sessions?: Omit<SessionStoreOptions, 'log'>;
  /** Limits on guessing and floods shared with the API (core/limits.ts); none without. */
  limits?: Pick<Limits, 'addressFailures' | 'accountFailures' | 'mqttConnections'>;
  /** This node's name in the store (devices.node_id); 'local' when there is one node. */
  nodeId?: string;
  /**
   * Cluster mode: messages, subscriptions, sessions and retained messages go through this Redis
   * (mqemitter-redis, aedes-persistence-redis), shared with the other nodes; `sessions` is unused.
   */
  redisUrl?: string;
  /**
   * Alibaba's Alink beside our protocol (broker/alink.ts): the catalog's Alink identifiers, the key
   * device secrets derive from (none: Alink devices are refused) and how long message ids are remembered.
   */
  alink?: { catalog: Catalog; key?: Buffer; dedupWindowMs: number; maxPayloadBytes: number };
}

type DeviceIdentity = Extract<Identity, { kind: 'device' }>;

/**
 * Whether a connection may be read from: not while any of its messages wait for ingest to have
 * room, nor while the broker's message bus is backed up.
 */
interface Flow {
  /** Messages of this connection waiting for ingest. */
  held: number;
  /** Has been held since it last caught up: its reads are cut short (see handle). */
  throttled: boolean;
  /** A read was refused while held: the connection must be woken when the last one goes through. */
  starved: boolean;
  /** A read was refused because the bus was backed up: woken when it has drained. */
  waitingForBus: boolean;
  /**
   * The commit the latest PUBACKs wait for, and how many corks of the socket it owes (see
   * holdAcks): one promise reaction per commit and connection, not per message.
   */
  acks?: { durable: Promise<unknown>; corks: number };
  wake(): void;
}

type PlatformClient = Client & { identity?: Identity; flow?: Flow; connectPacket?: ConnectPacket; address?: string };

/** Packets the broker takes from one connection before it turns to the others (see handle). */
const MAX_PACKETS_PER_READ = 32;

/**
 * What a subscriber (a service account) may have waiting in its socket before deliveries to it are
 * shed. Its socket's write buffer is raised to this, so a subscriber that pauses for a moment (a
 * GC, a burst) gets everything, and Aedes waits for a drain only where shedding starts anyway.
 */
const SUBSCRIBER_BUFFER_BYTES = 1024 * 1024;

const CONNACK_IDENTIFIER_REJECTED = Buffer.from([0x20, 0x02, 0x00, 0x02]);

/**
 * The platform's Aedes broker: device authentication, topic ACLs of DESIGN §3, broker-published
 * retained status, and the strictness stock Aedes lacks (packet size before buffering, invalid
 * UTF-8 topics, empty client ids with persistent sessions, keepalive 0).
 */
export class PlatformBroker {
  readonly aedes: Aedes;
  private readonly auth: Authenticator;
  private readonly presence: PresenceWriter;
  private readonly throttle: LogThrottle;
  /** The live connection of each device; guards against a stale disconnect after a session takeover. */
  private readonly devices = new Map<string, Client>();
  /** Payloads ingest dead-lettered: delivered to no subscriber. Weak, so nothing lingers. */
  private readonly rejected = new WeakSet<Buffer>();
  private hooks: BrokerHooks;
  private commandHandler?: (c: PlatformCommand) => void;
  private readonly bus: TopicEmitter | RedisBus;
  private readonly alink?: AlinkAdapter;
  /** Deliveries shed for subscribers that could not keep up; reads refused while the bus was backed up; deliveries made. */
  readonly load = { shed: 0, readsPausedForBus: 0, delivered: 0 };
  readonly flood: FloodGuard;
  readonly sessions: SessionStore | undefined;
  /** Cluster mode: the Redis connection sessions are kept over (closed with the broker). */
  private readonly redis?: { quit(): Promise<unknown>; ping(): Promise<unknown>; status: string };

  constructor(private readonly opts: BrokerOptions) {
    this.hooks = opts.hooks ?? {};
    this.auth = new Authenticator(opts.db, opts.alink?.key);
    if (opts.alink) this.alink = new AlinkAdapter(opts.alink.catalog, { dedupWindowMs: opts.alink.dedupWindowMs, maxPayloadBytes: opts.alink.maxPayloadBytes });
    this.presence = new PresenceWriter(opts.db, opts.log, opts.nodeId ?? 'local');
    this.throttle = new LogThrottle(opts.log);
    this.flood = new FloodGuard({ maxInvalidPerMinute: opts.maxInvalidPerMinute });
    const order = new DeliveryOrder(() => this.aedes as unknown as { id: string; counter: number });
    const renumber = (msg: object) => order.renumber(msg);
    let persistence: unknown;
    if (opts.redisUrl) {
      const onError = (err: Error) => this.throttle.error(`redis:${err.message}`, { err }, 'redis unreachable: messages to other nodes wait');
      this.bus = new RedisBus(opts.redisUrl, (msg) => this.rejected.has(msg.payload as Buffer), onError, opts.busHighWater, renumber);
      const shared = redisSessions(opts.redisUrl);
      shared.redis.on('error', onError);
      persistence = shared.persistence;
      this.redis = shared.redis;
    } else {
      this.bus = new TopicEmitter(undefined, opts.busHighWater, renumber);
      this.sessions = opts.sessions && new SessionStore({ ...opts.sessions, log: opts.log.child({ component: 'sessions' }) });
      persistence = this.sessions;
    }
    this.aedes = new Aedes({
      persistence: order.wrap(persistence as Parameters<DeliveryOrder['wrap']>[0]) as never,
      preConnect: (client, packet, cb) => this.preConnect(client as PlatformClient, packet, cb),
      authenticate: (client, username, password, cb) => this.authenticate(client as PlatformClient, username, password, cb),
      authorizePublish: (client, packet, cb) => this.authorizePublish(client as PlatformClient | null, packet, cb),
      authorizeSubscribe: (client, sub, cb) => this.authorizeSubscribe(client as PlatformClient, sub, cb),
      authorizeForward: (client, packet) => this.forward(client as PlatformClient | null, packet),
      // Sessions of devices are clean by protocol; keep aedes' default bounds otherwise.
      connectTimeout: 10_000,
      mq: this.bus,
    });
    this.aedes.on('clientReady', (c) => this.onReady(c as PlatformClient));
    this.aedes.on('clientDisconnect', (c) => this.onDisconnect(c as PlatformClient));
    this.aedes.on('clientError', (c, err) => this.throttle.warn(`client_error:${err.message}`, { clientId: c.id, err: err.message }, 'mqtt client error'));
    this.aedes.on('connectionError', (_c, err) => this.throttle.warn(`connection_error:${err.message}`, { err: err.message }, 'mqtt connection error before CONNECT'));
  }

  async start(): Promise<void> {
    await this.aedes.listen();
    // No device is connected yet, whatever the retained statuses kept from before a crash say. (In a
    // cluster the statuses are shared, and the other nodes' devices are connected: the devices of a
    // node that died say online until they reconnect elsewhere; the store's presence knows better.)
    const stale = this.sessions?.retainedMatching((t) => parseDeviceTopic(t)?.kind === 'status').filter((p) => p.payload.toString() === 'online') ?? [];
    await Promise.all(stale.map((p) => this.publish(p.topic, 'offline', { qos: 1, retain: true })));
  }

  setHooks(hooks: BrokerHooks): void {
    this.hooks = { ...this.hooks, ...hooks };
  }

  /** Hands a new transport stream (TCP, TLS or WebSocket) to the broker, behind the packet guard. */
  handle(stream: Duplex, req?: IncomingMessage): void {
    const address = (stream as Duplex & { remoteAddress?: string }).remoteAddress ?? req?.socket.remoteAddress ?? 'unknown';
    const limits = this.opts.limits;
    const release = limits ? limits.mqttConnections.acquire(address) : () => undefined;
    if (!release) {
      this.refuse({ reason: 'too_many_connections', detail: `more than ${limits!.mqttConnections.max} connections from ${address}` });
      stream.destroy();
      return;
    }
    stream.once('close', release);
    const guard = new PacketGuard(this.opts.maxPacketBytes);
    const read = stream.read.bind(stream);
    let client: PlatformClient | undefined;
    const flow: Flow = { held: 0, throttled: false, starved: false, waitingForBus: false, wake: () => stream.emit('readable') };
    // Aedes pulls with read(); screening there sees every byte before the MQTT parser does.
    stream.read = (size?: number) => {
      // Aedes reads on whenever new bytes arrive, even while this connection's messages wait for
      // ingest (its 'readable' handler counts a batch as done): refusing here leaves the bytes in
      // the socket, whose buffers fill until TCP slows the device down.
      if (flow.held > 0) {
        flow.starved = true;
        return null;
      }
      if (this.bus.backedUp) {
        this.waitForBus(flow);
        return null;
      }
      const chunk = read(size) as Buffer | null;
      if (chunk === null) return null;
      // While the bus is half full, every connection's reads are cut short too: 10,000 devices each
      // handing over a whole buffered read would overshoot the high-water mark tenfold.
      const verdict = guard.scan(chunk, flow.throttled || this.bus.busy ? MAX_PACKETS_PER_READ : Infinity);
      if (!verdict) {
        flow.throttled = false; // caught up: whole reads again
        return chunk;
      }
      if ('cut' in verdict) {
        // Aedes handles a whole read at once: a connection that was held back by ingest would
        // otherwise come back with everything its socket buffered (up to ~80 KB, ~550 messages,
        // times every connection held). Only such connections are cut short; putting the rest back
        // copies it, which a connection reading normally should not pay for.
        stream.unshift(chunk.subarray(verdict.cut));
        return chunk.subarray(0, verdict.cut);
      }
      const identity = client?.identity;
      this.refuse({
        reason: verdict.reason,
        clientId: client?.id ?? undefined,
        deviceId: identity?.kind === 'device' ? identity.id : undefined,
        detail: 'declaredBytes' in verdict ? `declared ${verdict.declaredBytes} bytes, limit ${this.opts.maxPacketBytes}` : undefined,
      });
      stream.destroy();
      return null;
    };
    client = this.aedes.handle(stream as never, req) as PlatformClient;
    client.flow = flow;
    client.address = address;
  }

  /**
   * The Alink triple of an Alink device (productKey = its type, deviceName = its id): its
   * deviceSecret follows from its stored hash (core/secrets.ts). Undefined where Alink is off.
   */
  alinkTriple(device: { id: string; type: string; secretHash: string }): { productKey: string; deviceName: string; deviceSecret: string } | undefined {
    const key = this.opts.alink?.key;
    return key && { productKey: device.type, deviceName: device.id, deviceSecret: alinkDeviceSecret(key, device.id, device.secretHash) };
  }

  /** Cluster mode: Redis answers (readiness); undefined on one node. */
  redisPing(): Promise<unknown> | undefined {
    if (!this.redis) return undefined;
    return this.redis.status === 'ready' ? this.redis.ping() : Promise.reject(new Error(`redis ${this.redis.status}`));
  }

  get clientCount(): number {
    return this.aedes.connectedClients ?? 0;
  }

  isOnline(deviceId: string): boolean {
    return this.devices.has(deviceId);
  }

  onlineCount(): number {
    return this.devices.size;
  }

  /** Publishes as the platform itself (no ACL): status, commands, platform/... events. */
  publish(topic: string, payload: string | Buffer, opts: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    return new Promise((resolve, reject) =>
      this.aedes.publish(
        { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: opts.qos ?? 0, retain: opts.retain ?? false, dup: false },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }

  /**
   * A credential was revoked or rotated: its remembered secret is forgotten and every live
   * connection made with it is closed at once (it must connect again, with the new secret).
   * Returns how many connections were closed.
   */
  revokeCredentials(username: string): number {
    this.auth.forget(username);
    let closed = 0;
    // aedes keeps its connected clients by id (not in its typings).
    for (const c of Object.values((this.aedes as unknown as { clients: Record<string, PlatformClient> }).clients)) {
      const id = c.identity;
      if ((id?.kind === 'device' && id.id === username) || (id?.kind === 'service' && id.username === username)) {
        // A revoked client's will is not published (a stolen sensor's last word must not be an alarm).
        (c as unknown as { will: unknown }).will = null;
        c.close();
        closed++;
      }
    }
    if (closed) this.opts.log.info({ username, connections: closed }, 'credential revoked: its connections closed');
    return closed;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await this.sessions?.destroy();
    await this.redis?.quit().catch(() => undefined);
    await this.presence.close();
    this.throttle.close();
  }

  private preConnect(client: PlatformClient, packet: ConnectPacket, cb: (err: Error | null, ok: boolean) => void): void {
    if (packet.clientId === '' && !packet.clean) {
      // MQTT-3.1.3-8: CONNACK 0x02 "identifier rejected", then close.
      this.refuse({ reason: 'empty_client_id_persistent_session' });
      client.conn.end(CONNACK_IDENTIFIER_REJECTED);
      cb(null, false);
      return;
    }
    client.connectPacket = packet;
    if (!packet.keepalive || packet.keepalive > this.opts.maxKeepaliveS) {
      // Nobody sits forever: a client asking for no keepalive (or a huge one) gets the broker's
      // maximum, after which a silent connection is closed (1.5× the interval, MQTT-3.1.2-24).
      packet.keepalive = this.opts.maxKeepaliveS;
    }
    cb(null, true);
  }

  private authenticate(client: PlatformClient, username: string | undefined, password: Buffer | undefined, cb: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void): void {
    // Guessing is slowed per address and per account: past the limit, failures get CONNACK 5; a
    // secret that verifies still gets in (a stale sensor must not lock out its NAT neighbours).
    const limits = this.opts.limits;
    const byAddress = `mqtt:${addressKey(client.address)}`;
    const byAccount = `account:${username ?? ''}`;
    this.auth.authenticate(client.id, username, password, client.connectPacket?.clientId === '').then(
      (result) => {
        if (limits && !result.ok) {
          const blockedMs = Math.max(limits.addressFailures.blockedFor(byAddress), username ? limits.accountFailures.blockedFor(byAccount) : 0);
          if (blockedMs > 0) {
            this.refuse({ reason: 'auth_blocked', clientId: client.id, detail: `too many failed logins from ${client.address} or for ${username}; ${Math.ceil(blockedMs / 1000)} s more` });
            cb(Object.assign(new Error('auth_blocked'), { returnCode: 5 }), false);
            return;
          }
          const started = limits.addressFailures.fail(byAddress) ?? (username ? limits.accountFailures.fail(byAccount) : undefined);
          if (started) this.opts.log.warn({ address: client.address, username, blockedS: started.blockedMs / 1000 }, 'too many failed MQTT logins: blocked for a while');
        }
        if (result.ok && result.identity.kind === 'device') {
          const bannedMs = this.flood.bannedFor(result.identity.id, Date.now());
          if (bannedMs > 0) {
            this.refuse({ reason: 'device_timed_out', clientId: client.id, deviceId: result.identity.id, detail: `too many invalid messages; refused for ${Math.ceil(bannedMs / 1000)} s more` });
            cb(Object.assign(new Error('device_timed_out'), { returnCode: 3 }), false);
            return;
          }
          // Devices keep clean sessions (README, protocol): a command queued while a device was
          // away (hold the elevator door) must not reach it later. clean=false is ignored, not refused.
          const packet = client.connectPacket;
          if (packet) packet.clean = true;
          client.clean = true;
        }
        if (result.ok) {
          client.identity = result.identity;
          // An Alink device's session is its device's, whatever client id it chose (authenticator.ts).
          if (result.identity.kind === 'device' && result.identity.alink) client.id = result.identity.id;
          cb(null, true);
          return;
        }
        this.refuse({ reason: result.reason, clientId: client.id, deviceId: username });
        cb(Object.assign(new Error(result.reason), { returnCode: result.code }), false);
      },
      (err: Error) => {
        this.opts.log.error({ err, clientId: client.id }, 'authentication failed with an error');
        cb(Object.assign(new Error('server unavailable'), { returnCode: 3 }), false);
      },
    );
  }

  /**
   * Leaves a connection's bytes in its socket until the bus has drained (TCP then slows the device
   * down, as ingest's hold does); it comes back cut to MAX_PACKETS_PER_READ a read, so waking
   * every waiting connection at once overshoots the high-water mark by little.
   */
  private waitForBus(flow: Flow): void {
    if (flow.waitingForBus) return;
    flow.waitingForBus = true;
    flow.throttled = true;
    this.load.readsPausedForBus++;
    this.bus.whenRelieved(() => {
      flow.waitingForBus = false;
      flow.wake();
    });
  }

  /**
   * Per delivery: dead-lettered payloads go nowhere, and a subscriber whose socket is backed up
   * (a full write buffer: SUBSCRIBER_BUFFER_BYTES for service accounts, Node's 16 KB for a device's
   * commands) gets no more until it catches up, counted in `load.shed`. This is Mosquitto's
   * max_queued_messages behaviour: without it, a slow consumer holds all of Aedes' delivery slots,
   * its queue grows without bound, and draining it when the consumer leaves overflowed the stack
   * (mcollina/mqemitter#204).
   */
  private forward<P extends { payload: unknown; topic?: string }>(client: PlatformClient | null, packet: P): P | null {
    const identity = client?.identity;
    // The ACL per message at delivery, queued messages included (Mosquitto does the same).
    const refused = this.rejected.has(packet.payload as Buffer) || (identity?.kind === 'service' && packet.topic !== undefined && !identity.mayReceive(packet.topic));
    const shed = !refused && (client?.conn as { writableNeedDrain?: boolean } | undefined)?.writableNeedDrain === true;
    if (refused || shed) {
      if (shed) this.load.shed++;
      // Its copy queued for a persistent session goes too (aedes clears it next, see SessionStore).
      if (client?.clean === false) this.sessions?.notForwarded(packet);
      return null;
    }
    this.load.delivered++;
    // A command to an Alink device goes as Alibaba's service call.
    if (identity?.kind === 'device' && identity.alink && packet.topic === identity.cmdTopic) {
      const call = this.alink!.downlink(identity.id, identity.alink, packet.payload as Buffer);
      if (!call) {
        this.refuse({ reason: 'alink_bad_command', clientId: client!.id, deviceId: identity.id, topic: packet.topic, payload: packet.payload as Buffer });
        return null;
      }
      return { ...packet, ...call };
    }
    return packet;
  }

  private authorizePublish(client: PlatformClient | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    const identity = client?.identity;
    if (!client || !identity) return cb(new Error('not authenticated'));
    const topic = packet.topic;
    if (hasForbiddenChars(topic)) return this.refusePublish(client, packet, 'invalid_topic_encoding', cb);
    if (identity.kind === 'device') {
      // Packets already read from a device that was just timed out go no further.
      if (this.flood.bannedFor(identity.id, Date.now()) > 0) return cb(new Error('device timed out for flooding'));
      if (identity.alink) return this.alinkPublish(client, identity as DeviceIdentity & { alink: AlinkDevice }, packet, cb);
      const kind = devicePublishKind(identity.prefix, topic);
      if (!kind) return this.refusePublish(client, packet, 'topic_not_allowed', cb);
      // Devices never own retained state: status is the broker's, and retained telemetry would pile up.
      packet.retain = false;
      if (!this.hooks.onDeviceMessage) return cb(null);
      const payload = packet.payload as Buffer;
      this.settle(client, payload, this.hooks.onDeviceMessage({ deviceId: identity.id, type: identity.type, kind, topic, payload, qos: packet.qos, receivedAt: Date.now() }), cb);
      return;
    }
    // An account allowed `#` may publish anywhere but $SYS, $-topics included (an ACL grants, it does not
    // route: MQTT-4.7.2-1 keeps such messages from wildcard subscribers all the same).
    const mayPublish = (f: string) => f === '#' || filterMatches(f, topic);
    // A device's topics hold no retained state but the broker's status: a retained command would
    // reach the device again at every reconnect, against its clean session.
    if (topic.startsWith('v1/')) packet.retain = false;
    if (topic.startsWith('$SYS') || !identity.publish.some(mayPublish) || identity.deny.some((f) => filterMatches(f, topic))) return this.refusePublish(client, packet, 'topic_not_allowed', cb);
    // `platform/` is the platform's voice (its events are what the notification flows believe): no
    // account speaks there, but for a command granted by its exact name, never through a wildcard.
    if (topic.startsWith(PLATFORM_PREFIX) && !(topic.startsWith(COMMAND_PREFIX) && identity.publish.includes(topic))) return this.refusePublish(client, packet, 'topic_not_allowed', cb);
    // A command to the platform itself (紧急事件一键调度), from an account granted exactly that topic.
    if (topic.startsWith(COMMAND_PREFIX) && this.commandHandler) {
      try {
        this.commandHandler({ username: identity.username, topic, payload: packet.payload as Buffer, dup: packet.dup });
      } catch (err) {
        this.opts.log.warn({ err, topic, username: identity.username }, 'platform command failed');
      }
    }
    cb(null);
  }

  /**
   * Carries out ingest's judgement of a device message: what was not forwarded goes to nobody, the
   * PUBACK waits until the message is on disk, and the connection is not read while ingest has no room.
   */
  private settle(client: PlatformClient, payload: Buffer, judgement: Judgement, cb: (err?: Error | null) => void): void {
    if (typeof judgement === 'string') {
      this.judged(client, payload, judgement);
      return cb(null);
    }
    this.judged(client, payload, judgement.verdict);
    const { durable, room } = judgement;
    if (!room) {
      if (durable) this.holdAcks(client, durable);
      return cb(null);
    }
    const flow = client.flow;
    if (flow) {
      flow.held++;
      flow.throttled = true;
    }
    const done = () => {
      if (!flow || --flow.held > 0 || !flow.starved) return;
      flow.starved = false;
      process.nextTick(flow.wake);
    };
    room.then(
      () => {
        if (durable) this.holdAcks(client, durable);
        cb(null);
        done();
      },
      (err: Error) => {
        cb(err);
        done();
      },
    );
  }

  /**
   * A publish of an Alink device (broker/alink.ts): translated into our protocol, it goes through
   * ingest as a native device's would, and subscribers see it on our topic (`v1/{type}/{id}/…`). The
   * device gets Alibaba's reply once the message is on disk (or refused, with the reason's code).
   */
  private alinkPublish(client: PlatformClient, identity: DeviceIdentity & { alink: AlinkDevice }, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    const raw = packet.payload as Buffer;
    const up = this.alink!.uplink(identity.id, identity.alink, packet.topic, raw);
    if ('notAllowed' in up) return this.refusePublish(client, packet, 'topic_not_allowed', cb);
    packet.retain = false;
    if ('refused' in up) {
      this.refuse({ reason: up.reason, clientId: client.id, deviceId: identity.id, topic: packet.topic, payload: raw, detail: up.detail });
      this.judged(client, raw, up.invalid ? 'invalid' : 'duplicate');
      if (up.replyTo) this.alinkReply(client, up.replyTo, up.answer, up.detail);
      return cb(null);
    }
    if (!this.hooks.onDeviceMessage) return cb(null);
    const topic = identity.prefix + up.kind;
    const receivedAt = Date.now();
    const judgements = up.payloads.map((payload) => this.hooks.onDeviceMessage!({ deviceId: identity.id, type: identity.type, kind: up.kind, topic, payload, qos: packet.qos, receivedAt }));
    packet.topic = topic;
    packet.payload = up.payloads[0]!;
    // Properties posted with several `time`s make several readings: the first rides this packet, the others are published beside it.
    for (let i = 1; i < judgements.length; i++) if (verdictOf(judgements[i]!) === 'forward') void this.publish(topic, up.payloads[i]!, { qos: packet.qos as 0 | 1 }).catch(() => undefined);
    const judgement = combine(judgements);
    this.settle(client, packet.payload, judgement, cb);
    const replyTo = up.replyTo;
    if (!replyTo) return;
    const answer: AlinkCode = typeof judgement === 'object' && judgement.verdict === 'invalid' ? codeForReason(judgement.reason) : ALINK_CODES.ok;
    const detail = typeof judgement === 'object' ? judgement.detail : undefined;
    const waits = typeof judgement === 'object' ? [judgement.durable, judgement.room].filter(Boolean) : [];
    if (waits.length === 0) return this.alinkReply(client, replyTo, answer, detail);
    Promise.all(waits).then(
      () => this.alinkReply(client, replyTo, answer, detail),
      () => undefined, // not on disk: the connection is closed and the device resends
    );
  }

  /** An Alink reply, to this device alone, whether or not it has subscribed yet (Alibaba subscribes devices to their replies). */
  private alinkReply(client: PlatformClient, to: AlinkReplyTo, answer: AlinkCode, detail?: string): void {
    // Not client.publish(): that stamps the reply with the broker's message counter, and Aedes then
    // drops as a duplicate any older message still on the bus for this client (a command).
    const deliver0 = (client as unknown as { deliver0(p: object, cb: () => void): void }).deliver0;
    deliver0({ cmd: 'publish', topic: to.topic, payload: AlinkAdapter.reply(to, answer, detail), qos: 0, retain: false, dup: false }, () => undefined);
  }

  /** Takes the commands service accounts publish under `platform/commands/` (one handler: the platform's). */
  onCommand(handler: (c: PlatformCommand) => void): void {
    this.commandHandler = handler;
  }

  /**
   * Holds what aedes writes to this connection next (the PUBACK, written right after
   * authorizePublish returns) in the socket until `durable` settles: the socket is corked once per
   * message and uncorked as many times when the commit is on disk. Commits settle in order, so
   * PUBACKs leave in the order their messages came (MQTT-4.6.0-2). A commit that fails closes the
   * connection instead: nothing is acknowledged, and the device resends.
   */
  private holdAcks(client: PlatformClient, durable: Promise<unknown>): void {
    const conn = client.conn as unknown as Writable & { destroyed: boolean; destroy(err?: Error): void };
    const flow = client.flow;
    conn.cork();
    if (flow?.acks?.durable === durable) {
      flow.acks.corks++;
      return;
    }
    const gate = { durable, corks: 1 };
    if (flow) flow.acks = gate;
    durable.then(
      () => {
        if (flow?.acks === gate) flow.acks = undefined;
        for (let i = 0; i < gate.corks; i++) conn.uncork();
      },
      (err: Error) => {
        if (flow?.acks === gate) flow.acks = undefined;
        conn.destroy(err);
      },
    );
  }

  /** Takes ingest's verdict: what was not forwarded goes to no subscriber; invalid ones count toward the flood limit. */
  private judged(client: PlatformClient, payload: Buffer, verdict: Verdict): void {
    if (verdict === 'forward') return;
    this.rejected.add(payload);
    const identity = client.identity;
    if (verdict !== 'invalid' || identity?.kind !== 'device') return;
    const banMs = this.flood.invalid(identity.id, Date.now());
    if (banMs === undefined) return;
    this.opts.log.warn({ deviceId: identity.id, limitPerMinute: this.opts.maxInvalidPerMinute, timeoutS: banMs / 1000 }, 'device sent too many invalid messages: disconnected and refused for a while');
    this.hooks.onRefused?.({ reason: 'device_flooding', clientId: client.id ?? undefined, deviceId: identity.id, detail: `more than ${this.opts.maxInvalidPerMinute} invalid messages in a minute; refused for ${banMs / 1000} s` });
    client.close();
  }

  private authorizeSubscribe(client: PlatformClient, sub: Subscription, cb: (err: Error | null, sub?: Subscription | null) => void): void {
    const identity = client.identity;
    if (!identity) return cb(new Error('not authenticated'));
    if (hasForbiddenChars(sub.topic)) {
      this.refuse({ reason: 'invalid_topic_encoding', clientId: client.id, topic: sub.topic });
      return cb(new Error('invalid topic encoding'));
    }
    // A filter equal to or inside a denied one is refused; a wider one is granted, and what it would
    // bring from the denied topics is held back per message (forward).
    const allowed = identity.kind === 'device' ? sub.topic === identity.cmdTopic || (identity.alink?.scopes.some((f) => filterCovers(f, sub.topic)) ?? false) : identity.subscribe.some((f) => filterCovers(f, sub.topic)) && !identity.deny.some((f) => filterCovers(f, sub.topic));
    if (allowed) return cb(null, sub);
    this.refuse({ reason: 'subscribe_not_allowed', clientId: client.id, deviceId: identity.kind === 'device' ? identity.id : undefined, topic: sub.topic });
    cb(null, null); // SUBACK 0x80 for this filter; the connection stays up
  }

  private refusePublish(client: PlatformClient, packet: PublishPacket, reason: string, cb: (err?: Error | null) => void): void {
    const identity = client.identity;
    this.refuse({
      reason,
      clientId: client.id,
      deviceId: identity?.kind === 'device' ? identity.id : undefined,
      topic: packet.topic,
      payload: packet.payload as Buffer,
    });
    // MQTT 3.1.1 cannot refuse a single PUBLISH: the connection is closed (MQTT-3.3.5-2).
    cb(new Error(`${reason}: ${packet.topic}`));
  }

  private refuse(r: Refusal): void {
    this.throttle.warn(`${r.reason}:${r.deviceId ?? r.clientId ?? ''}`, { reason: r.reason, clientId: r.clientId, deviceId: r.deviceId, topic: r.topic, detail: r.detail }, 'mqtt refused');
    this.hooks.onRefused?.(r);
  }

  private onReady(client: PlatformClient): void {
    const identity = client.identity;
    if (identity?.kind === 'service') {
      // Node has no setter for a stream's write buffer size after it is made; this is the field it reads.
      const state = (client.conn as unknown as { _writableState?: { highWaterMark: number } })._writableState;
      if (state) state.highWaterMark = SUBSCRIBER_BUFFER_BYTES;
      coalesceWrites(client.conn as unknown as Writable);
    }
    if (identity?.kind !== 'device') return;
    // An Alink device does not ask for our commands: it is subscribed for them, and forward() translates.
    if (identity.alink) client.subscribe({ topic: identity.cmdTopic, qos: 1 } as never, (err?: Error) => err && this.opts.log.error({ err, deviceId: identity.id }, 'subscribing an Alink device to its commands failed'));
    this.devices.set(identity.id, client);
    this.presence.record(identity.id, true);
    this.hooks.onPresence?.(identity.id, true);
    this.publish(`${identity.prefix}status`, 'online', { qos: 1, retain: true }).catch((err) => this.opts.log.error({ err, deviceId: identity.id }, 'status publish failed'));
  }

  private onDisconnect(client: PlatformClient): void {
    const identity = client.identity;
    if (identity?.kind !== 'device' || this.devices.get(identity.id) !== client) return;
    this.devices.delete(identity.id);
    this.presence.record(identity.id, false);
    this.hooks.onPresence?.(identity.id, false);
    if (this.aedes.closed) return;
    this.publish(`${identity.prefix}status`, 'offline', { qos: 1, retain: true }).catch((err) => this.opts.log.error({ err, deviceId: identity.id }, 'status publish failed'));
  }
}

const verdictOf = (j: Judgement): Verdict => (typeof j === 'string' ? j : j.verdict);

/** Several judgements as one: invalid if any is (with its reason), acknowledged once all are on disk. */
function combine(js: Judgement[]): Judgement {
  if (js.length === 1) return js[0]!;
  const invalid = js.find((j) => verdictOf(j) === 'invalid');
  const verdict: Verdict = invalid ? 'invalid' : js.every((j) => verdictOf(j) === 'duplicate') ? 'duplicate' : 'forward';
  const objects = js.filter((j): j is Exclude<Judgement, Verdict> => typeof j === 'object');
  const durables = objects.map((j) => j.durable).filter(Boolean);
  const rooms = objects.map((j) => j.room).filter(Boolean);
  const detail = invalid && typeof invalid === 'object' ? invalid : undefined;
  return { verdict, durable: durables.length ? Promise.all(durables) : undefined, room: rooms.length ? Promise.all(rooms) : undefined, reason: detail?.reason, detail: detail?.detail };
}
