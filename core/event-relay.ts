import { Redis } from 'ioredis';
import type { EventBus, Extension } from './event-bus.ts';
import type { Logger } from './logger.ts';

const CHANNEL = 'sps:events';

/**
 * Cluster mode: each node's bus events go to the others through one Redis channel, where only the
 * listeners that show events (the live stream of a browser connected to that node) hear them; the
 * node where an event happened is the only one that acts on it (work items, MQTT fan-out).
 */
export class EventRelay<E extends { kind: string }> implements Extension {
  readonly name = 'cluster-relay';
  private pub?: Redis;
  private sub?: Redis;

  constructor(private readonly bus: EventBus<E>, private readonly redisUrl: string, private readonly nodeId: string, private readonly log: Logger) {}

  async start(): Promise<void> {
    this.pub = new Redis(this.redisUrl);
    this.sub = new Redis(this.redisUrl);
    for (const c of [this.pub, this.sub]) c.on('error', (err: Error) => this.log.warn({ err: err.message }, 'event relay: redis unreachable; other nodes\' events wait'));
    this.sub.on('message', (_channel: string, message: string) => {
      const { node, event } = JSON.parse(message) as { node: string; event: E };
      if (node !== this.nodeId) this.bus.emit(event, true);
    });
    await this.sub.subscribe(CHANNEL);
    this.bus.on(this.name, '*', (event) => this.pub!.publish(CHANNEL, JSON.stringify({ node: this.nodeId, event })));
  }

  async stop(): Promise<void> {
    this.bus.removeListeners(this.name);
    await Promise.all([this.pub?.quit(), this.sub?.quit()].map((p) => p?.catch(() => undefined)));
  }
}
