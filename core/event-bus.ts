import type { Logger } from './logger.ts';

/** A listener: may return a promise; a rejection is caught like a throw. */
type Listener<E> = (e: E) => unknown;

interface Subscription<E> {
  /** Who listens: named in logs and counted in `stats()`, removed together by `removeListeners`. */
  owner: string;
  kind: string;
  fn: Listener<E>;
  /** Also hears what happened on the cluster's other nodes (core/event-relay.ts): watchers, never actors. */
  remote: boolean;
}

/**
 * The one bus for what happens on the platform (alarm, incident and work-item events), modelled on
 * zigbee2mqtt's `lib/eventBus.ts`: producers emit, consumers (MQTT fan-out, SSE, metrics, the
 * work-item layer, notification channels) subscribe by event kind. Delivery is synchronous and in
 * subscription order, so a consumer sees events in the order they happened. Each consumer is
 * isolated: one that throws or rejects is logged and counted, and the others and the producer carry
 * on.
 */
export class EventBus<E extends { kind: string }> {
  private subs: Subscription<E>[] = [];
  private readonly failures = new Map<string, { count: number; lastAt: number }>();
  delivered = 0;

  constructor(private readonly log: Logger) {}

  /**
   * Listens to one kind of event (`'*'`: all of them). Returns a function that stops listening.
   * `remote`: also the other nodes' events, for consumers that only show them (the live stream);
   * whoever acts on an event (work items, the MQTT fan-out) hears its own node's only, so an event
   * is acted on once in a cluster.
   */
  on<K extends E['kind'] | '*'>(owner: string, kind: K, fn: Listener<K extends '*' ? E : Extract<E, { kind: K }>>, opts: { remote?: boolean } = {}): () => void {
    const sub = { owner, kind, fn: fn as Listener<E>, remote: opts.remote ?? false };
    this.subs = [...this.subs, sub];
    return () => {
      this.subs = this.subs.filter((s) => s !== sub);
    };
  }

  /** Every listener of this owner stops (an extension's `stop()`). */
  removeListeners(owner: string): void {
    this.subs = this.subs.filter((s) => s.owner !== owner);
  }

  /** `remote`: an event another node emitted, relayed here (only `remote` listeners hear it). */
  emit(e: E, remote = false): void {
    // A listener that subscribes or unsubscribes meanwhile changes the next emit, not this one.
    for (const s of this.subs) {
      if ((s.kind !== '*' && s.kind !== e.kind) || (remote && !s.remote)) continue;
      this.delivered++;
      try {
        const r = s.fn(e);
        if (r instanceof Promise) r.catch((err: unknown) => this.failed(s, e, err));
      } catch (err) {
        this.failed(s, e, err);
      }
    }
  }

  stats(): { listeners: number; delivered: number; failures: Record<string, number> } {
    return { listeners: this.subs.length, delivered: this.delivered, failures: Object.fromEntries([...this.failures].map(([k, v]) => [k, v.count])) };
  }

  /** Consumers that failed within the last `windowMs` (health's reasons). */
  recentFailures(now: number, windowMs: number): { consumer: string; count: number; agoMs: number }[] {
    return [...this.failures].filter(([, f]) => now - f.lastAt <= windowMs).map(([consumer, f]) => ({ consumer, count: f.count, agoMs: now - f.lastAt }));
  }

  private failed(s: Subscription<E>, e: E, err: unknown): void {
    const f = this.failures.get(s.owner) ?? { count: 0, lastAt: 0 };
    this.failures.set(s.owner, { count: f.count + 1, lastAt: Date.now() });
    this.log.error({ err, consumer: s.owner, kind: e.kind, event: (e as { event?: string }).event }, 'event consumer failed');
  }
}

/** A consumer of the bus with a life cycle (zigbee2mqtt's extensions): started after the platform, stopped before it. */
export interface Extension {
  readonly name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}
