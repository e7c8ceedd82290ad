import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceCredential } from '../core/seed.ts';
import type { Logger } from '../core/logger.ts';
import type { DeviceType } from '../devices/lib/catalog.ts';

/**
 * The `bad-device` scenario: a real device with valid credentials that keeps sending what a buggy
 * firmware or an attacker would. Each round walks every kind of bad input once; the platform must
 * dead-letter each with its own reason and keep storing the good messages around them.
 */
export class BadDevice {
  private client: MqttClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  readonly prefix: string;

  constructor(
    private readonly url: string,
    private readonly cred: DeviceCredential,
    private readonly type: DeviceType,
    /** Another device's topic prefix, to publish where it must not. */
    private readonly victimPrefix: string,
    private readonly counts: Record<string, number>,
    private readonly log?: Logger,
  ) {
    this.prefix = `v1/${cred.type}/${cred.id}/`;
  }

  async start(everyS: number): Promise<void> {
    this.client = mqtt.connect(this.url, { clientId: this.cred.id, username: this.cred.id, password: this.cred.secret, reconnectPeriod: 300, clean: true });
    await new Promise<void>((resolve) => this.client!.once('connect', () => resolve()));
    const play = () => {
      if (!this.running) this.running = this.round().finally(() => (this.running = undefined));
    };
    play();
    this.timer = setInterval(play, everyS * 1000);
  }

  /** The bad messages of one round, each with the reason the platform should give. */
  messages(): { reason: string; kind: 'telemetry' | 'event'; payload: string }[] {
    const def = this.type.definition;
    const props = Object.entries(def.props);
    const [name, spec] = props.find(([, s]) => s.kind === 'number') ?? props[0]!;
    const list: { reason: string; kind: 'telemetry' | 'event'; payload: string }[] = [
      { reason: 'invalid_json', kind: 'telemetry', payload: '{"props": {"' },
      { reason: 'empty_props', kind: 'telemetry', payload: JSON.stringify({ ts: Date.now(), props: {} }) },
      { reason: 'unknown_property', kind: 'telemetry', payload: JSON.stringify({ props: { noSuchProperty: 1 } }) },
      { reason: 'wrong_type', kind: 'telemetry', payload: JSON.stringify({ props: { [name]: spec.kind === 'string' ? 42 : 'high' } }) },
      { reason: 'payload_too_large', kind: 'telemetry', payload: JSON.stringify({ props: { [name]: null }, pad: 'x'.repeat(20_000) }) },
    ];
    if (spec.kind === 'number') list.push({ reason: 'out_of_range', kind: 'telemetry', payload: JSON.stringify({ props: { [name]: spec.max + Math.abs(spec.max) + 1000 } }) });
    const withFields = Object.entries(def.events).find(([, fields]) => Object.keys(fields).length > 0);
    list.push(
      withFields
        ? { reason: 'missing_field', kind: 'event', payload: JSON.stringify({ event: withFields[0], data: {} }) }
        : { reason: 'unknown_event', kind: 'event', payload: JSON.stringify({ event: 'no_such_event', data: {} }) },
    );
    return list;
  }

  private async round(): Promise<void> {
    const c = this.client!;
    for (const m of this.messages()) {
      if (this.stopped) return;
      await c.publishAsync(`${this.prefix}${m.kind}`, m.payload, { qos: 1 }).catch(() => undefined);
      this.counts[m.reason] = (this.counts[m.reason] ?? 0) + 1;
    }
    // A wildcard subscription is refused (SUBACK 0x80) and the connection stays up.
    const granted = await c.subscribeAsync('#', { qos: 0 }).catch(() => [{ qos: 128 }]);
    if (granted[0]?.qos === 128) this.counts['subscribe_not_allowed'] = (this.counts['subscribe_not_allowed'] ?? 0) + 1;
    // Publishing under another device's topic and a packet over the broker's limit each cost the connection.
    await this.publishExpectingDisconnect(`${this.victimPrefix}telemetry`, JSON.stringify({ props: { x: 1 } }), 'topic_not_allowed');
    await this.publishExpectingDisconnect(`${this.prefix}telemetry`, 'x'.repeat(300 * 1024), 'packet_too_large');
    this.log?.info({ deviceId: this.cred.id, counts: this.counts }, 'bad-device round done');
  }

  private async publishExpectingDisconnect(topic: string, payload: string, reason: string): Promise<void> {
    const c = this.client!;
    if (this.stopped || !c.connected) return;
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish(topic, payload, { qos: 0 });
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    await Promise.race([closed, sleep(3000)]);
    if (this.stopped) return;
    await Promise.race([new Promise<void>((resolve) => c.once('connect', () => resolve())), sleep(5000)]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await this.client?.endAsync(true).catch(() => undefined);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
