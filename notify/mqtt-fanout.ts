import type { EventBus, Extension } from '../core/event-bus.ts';
import type { Logger } from '../core/logger.ts';
import { eventTopic } from '../rules/events.ts';
import { workItemTopic, type PlatformEvent } from '../work-items/events.ts';

/**
 * MQTT fan-out: every alarm, incident and work-item event is published as the platform under
 * `platform/...` (DESIGN §5, README "Alarm lifecycle events"), QoS 1, for Node-RED and other
 * service accounts. One consumer of the bus among others; a failed publish is logged, never felt
 * by the producer.
 */
export class MqttFanout implements Extension {
  readonly name = 'mqtt-fanout';

  constructor(
    private readonly bus: EventBus<PlatformEvent>,
    private readonly publish: (topic: string, payload: string, opts: { qos: 0 | 1 }) => Promise<void>,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.bus.on(this.name, '*', (e) => {
      const topic = e.kind === 'work_item' ? workItemTopic(e) : eventTopic(e);
      return this.publish(topic, JSON.stringify(e), { qos: 1 }).catch((err: Error) => this.log.error({ err, topic }, 'platform event publish failed'));
    });
  }

  stop(): void {
    this.bus.removeListeners(this.name);
  }
}
