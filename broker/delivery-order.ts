type Numbered = { brokerId?: string | null; brokerCounter?: number };
type Persistence = {
  outgoingEnqueueCombi(subs: unknown[], packet: Numbered): Promise<void>;
  outgoingUpdate(client: unknown, packet: Numbered): Promise<void>;
};

/** Renumbered messages whose queued copies are still looked up by their first number. */
const MAX_ALIASES = 10_000;

/**
 * Numbers each message again as it is delivered, so a client sees numbers in the order it gets
 * messages.
 *
 * Aedes numbers a message (`brokerCounter`) when its publish starts, and every client drops a
 * message numbered at or below the last one it got from the same broker: that is how it delivers
 * once to overlapping subscriptions (`a/#` and `a/+`). Between numbering and delivery our store
 * waits for the disk (a retained message, a copy queued for a persistent session that is away),
 * and messages behind it that wait for nothing go ahead. The one that waited then arrives numbered
 * below them and was dropped: 19 of 20 retained messages, with a QoS 0 one behind each, and a
 * device's retained `online` when its first telemetry overtook it (moscajs/aedes#955, #994).
 *
 * The copy queued for a persistent session keeps its first number; aedes finds it by that number
 * when the message is delivered live to that session (outgoingUpdate), so the new number is
 * translated back there.
 */
export class DeliveryOrder {
  private readonly queuedUnder = new WeakMap<object, number>();
  private readonly aliases = new Map<number, number>();

  constructor(private readonly broker: () => { id: string; counter: number }) {}

  /** Just before a message is handed to its subscribers (TopicEmitter) or to the other nodes (RedisBus). */
  renumber(msg: Numbered): void {
    const broker = this.broker();
    // Another node's message keeps its number: every node delivers that node's messages in its order.
    if (msg.brokerId !== broker.id) return;
    const next = ++broker.counter;
    const first = this.queuedUnder.get(msg);
    msg.brokerCounter = next;
    if (first === undefined) return;
    this.aliases.set(next, first);
    if (this.aliases.size > MAX_ALIASES) this.aliases.delete(this.aliases.keys().next().value!);
  }

  /** Lets the persistence find a renumbered message's queued copies. */
  wrap<P extends Persistence>(persistence: P): P {
    const enqueue = persistence.outgoingEnqueueCombi.bind(persistence);
    const update = persistence.outgoingUpdate.bind(persistence);
    persistence.outgoingEnqueueCombi = (subs, packet) => {
      if (subs.length > 0 && packet.brokerCounter !== undefined) this.queuedUnder.set(packet, packet.brokerCounter);
      return enqueue(subs, packet);
    };
    persistence.outgoingUpdate = (client, packet) => {
      const first = packet.brokerId === this.broker().id && packet.brokerCounter !== undefined ? this.aliases.get(packet.brokerCounter) : undefined;
      // The delivery's own packet (a copy aedes made for this client): nothing else reads its number.
      if (first !== undefined) packet.brokerCounter = first;
      return update(client, packet);
    };
    return persistence;
  }
}
