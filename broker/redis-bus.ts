import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import AsyncRedisPersistence from 'aedes-persistence-redis/asyncPersistence.js';

type Done = (err?: Error | null) => void;
type Message = { topic: string; payload?: unknown };
type Listener = (msg: Message, done: Done) => void;

/**
 * The broker's message bus in cluster mode (REDIS_URL): mqemitter-redis, so a message published
 * on one node reaches subscribers on every node, with the two things the broker needs from its bus
 * (see TopicEmitter): `drop` keeps a message ingest refused off Redis altogether (the other nodes
 * could not tell it from a good one: the payload they get is a copy), and `backedUp` / `busy` /
 * `whenRelieved` count messages handed to Redis and not yet confirmed, so a slow Redis slows the
 * devices down through TCP instead of piling messages up in this process.
 */
export class RedisBus {
  closed = false;
  private readonly mq: {
    on(topic: string, l: Listener, done?: () => void): unknown;
    removeListener(topic: string, l: Listener, done?: () => void): unknown;
    emit(msg: Message, done?: Done): unknown;
    close(done?: () => void): unknown;
    state: { on(ev: 'error', fn: (err: Error) => void): void };
  };
  private inFlight = 0;
  private readonly relieved: (() => void)[] = [];

  constructor(
    url: string,
    private readonly drop: (msg: Message) => boolean,
    onError: (err: Error) => void,
    private readonly highWater = 10_000,
    /** Called on each message as it goes to Redis, in the order it goes (DeliveryOrder.renumber). */
    private readonly beforeSend?: (msg: Message) => void,
  ) {
    this.mq = new (MQEmitterRedis as unknown as new (o: object) => RedisBus['mq'])({ connectionString: url });
    this.mq.state.on('error', onError);
  }

  get length(): number {
    return this.inFlight;
  }

  get backedUp(): boolean {
    return this.inFlight >= this.highWater;
  }

  get busy(): boolean {
    return this.inFlight > this.highWater / 2;
  }

  whenRelieved(fn: () => void): void {
    if (!this.busy) process.nextTick(fn);
    else this.relieved.push(fn);
  }

  on(topic: string, listener: Listener, done?: () => void): this {
    this.mq.on(topic, listener, done);
    return this;
  }

  removeListener(topic: string, listener: Listener, done?: () => void): this {
    this.mq.removeListener(topic, listener, done);
    return this;
  }

  emit(msg: Message, done: Done = () => undefined): this {
    if (this.drop(msg)) {
      process.nextTick(done);
      return this;
    }
    this.beforeSend?.(msg);
    this.inFlight++;
    this.mq.emit(msg, (err) => {
      this.inFlight--;
      if (this.relieved.length && !this.busy) for (const fn of this.relieved.splice(0)) process.nextTick(fn);
      done(err);
    });
    return this;
  }

  close(done?: () => void): this {
    this.closed = true;
    this.mq.close(done);
    return this;
  }
}

/**
 * Sessions, subscriptions, retained messages and QoS 1 queues of every node in one Redis
 * (aedes-persistence-redis): a client that reconnects to another node finds its session there.
 */
export function redisSessions(url: string): { persistence: unknown; redis: Redis } {
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  return { persistence: new StreamingRedisPersistence({ conn: redis }), redis };
}

/**
 * aedes-persistence-redis's async persistence hands out async generators where Aedes 1.2 pipes
 * streams (subscribe.js `stream.pipe`, the retained messages of a new subscription): each becomes
 * a Readable, as aedes-persistence's own in-memory store returns.
 */
class StreamingRedisPersistence extends AsyncRedisPersistence {
  override createRetainedStreamCombi(patterns: string[]) {
    return Readable.from(super.createRetainedStreamCombi(patterns));
  }
  override createRetainedStream(pattern: string) {
    return Readable.from(super.createRetainedStream(pattern));
  }
  override outgoingStream(client: unknown) {
    return Readable.from(super.outgoingStream(client));
  }
  override streamWill(brokers?: unknown) {
    return Readable.from(super.streamWill(brokers));
  }
  override getClientList(topic: string) {
    return Readable.from(super.getClientList(topic));
  }
}
