import { Qlobber } from 'qlobber';
import { Fifo } from '../core/fifo.ts';

type Done = (err?: Error | null) => void;
type Message = { topic: string };
type Listener = (msg: Message, done: Done) => void;

const noop = () => undefined;
/** Topics whose listeners are remembered at once (a site's devices, a few topics each). */
const MAX_CACHED_TOPICS = 200_000;

/**
 * The broker's message bus: Aedes' `mq` (the mqemitter interface: on, removeListener, emit,
 * close), matched by the same topic trie (qlobber) with MQTT wildcards.
 *
 * Two differences from mqemitter 7, both measured under overload: messages waiting for a delivery
 * slot sit in an O(1) queue (mqemitter's `Array.shift` over a backlog took a quarter of the
 * broker's CPU at 40k msg/s offered), and the backlog is drained by a loop, never by recursion (in
 * mqemitter a message no one is subscribed to completes synchronously, and a backlog of them
 * overflowed the stack, mcollina/mqemitter#204). Completion is always reported on a later tick.
 */
export class TopicEmitter {
  closed = false;
  private readonly matcher = new Qlobber<Listener>({ separator: '/', wildcard_one: '+', wildcard_some: '#', match_empty_levels: true });
  private readonly waiting = new Fifo<Message>();
  private readonly waitingDone = new Fifo<Done>();
  /** Listeners by topic: devices publish on the same few topics over and over; cleared when listeners change. */
  private readonly matches = new Map<string, Listener[]>();
  private inFlight = 0;
  private draining = false;
  private readonly relieved: (() => void)[] = [];

  /**
   * At most `concurrency` messages are being delivered at once (Aedes' option of that name). Each
   * of Aedes' deliveries takes two turns of the event loop (a setImmediate before the write and one
   * after), so this caps deliveries per turn: Aedes' default of 100 held QoS 1 at 1,000 publishers
   * to 17k msg/s, where 1,000 reached 24k (`npm run bench:broker`).
   *
   * `highWater`: with this many messages waiting the bus is `backedUp`, and the broker stops reading
   * from connections until it has drained to half (see PlatformBroker.handle): without that, Aedes
   * reads on while its earlier messages wait, and 10,000 devices at QoS 0 piled up 700k messages
   * and 1.6 GB in this queue.
   */
  constructor(
    private readonly concurrency = 1000,
    private readonly highWater = 10_000,
    /** Called on each message just before its listeners, in delivery order (DeliveryOrder.renumber). */
    private readonly beforeDelivery?: (msg: Message) => void,
  ) {}

  /** Messages waiting for a delivery slot. */
  get length(): number {
    return this.waiting.length;
  }

  get backedUp(): boolean {
    return this.waiting.length >= this.highWater;
  }

  /** Past half the high-water mark: still taking messages, but falling behind. */
  get busy(): boolean {
    return this.waiting.length > this.highWater / 2;
  }

  /** Calls `fn` once the waiting messages are down to half the high-water mark (at once if they are). */
  whenRelieved(fn: () => void): void {
    if (!this.busy) process.nextTick(fn);
    else this.relieved.push(fn);
  }

  on(topic: string, listener: Listener, done?: () => void): this {
    this.matcher.add(topic, listener);
    this.matches.clear();
    if (done) setImmediate(done);
    return this;
  }

  removeListener(topic: string, listener: Listener, done?: () => void): this {
    // Later, as mqemitter does: a listener removed while a delivery runs still gets that message.
    setImmediate(() => {
      this.matcher.remove(topic, listener);
      this.matches.clear();
      done?.();
    });
    return this;
  }

  emit(msg: Message, done: Done = noop): this {
    if (this.closed) {
      done(new Error('broker message bus is closed'));
      return this;
    }
    this.waiting.push(msg);
    this.waitingDone.push(done);
    this.drain();
    return this;
  }

  close(done?: () => void): this {
    this.closed = true;
    if (done) setImmediate(done);
    return this;
  }

  private drain(): void {
    // Re-entered from a delivery that completed synchronously: the loop below picks up its successor.
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.inFlight < this.concurrency && this.waiting.length > 0) this.deliver(this.waiting.shift()!, this.waitingDone.shift()!);
    } finally {
      this.draining = false;
    }
    if (this.relieved.length && !this.busy) for (const fn of this.relieved.splice(0)) process.nextTick(fn);
  }

  private deliver(msg: Message, done: Done): void {
    let listeners = this.matches.get(msg.topic);
    if (!listeners) {
      if (this.matches.size >= MAX_CACHED_TOPICS) this.matches.clear();
      listeners = this.matcher.match(msg.topic);
      this.matches.set(msg.topic, listeners);
    }
    this.inFlight++;
    let left = listeners.length;
    if (left === 0) return this.complete(done);
    this.beforeDelivery?.(msg);
    // A listener's error is its own business (Aedes reports it on the client); the message still completes.
    for (const listener of listeners)
      listener.call(this, msg, () => {
        if (--left === 0) this.complete(done);
      });
  }

  private complete(done: Done): void {
    this.inFlight--;
    // Never back into Aedes synchronously: a publish no one listens to would otherwise finish
    // inside the MQTT parser's loop, and Aedes would read and parse the connection's next bytes
    // re-entrantly, out of order.
    process.nextTick(done);
    this.drain();
  }
}
