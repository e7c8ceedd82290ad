import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../core/logger.ts';
import { seedSite } from '../../core/seed.ts';
import { readSiteFile } from '../../core/site.ts';
import type { Db } from '../../core/store/db.ts';
import { migrate } from '../../core/store/migrations.ts';
import { openTestStore } from './store.ts';
import type { Reading } from '../../core/store/readings.ts';
import { loadCatalog, type Catalog } from '../../rules/catalog.ts';
import { ManualClock } from '../../rules/clock.ts';
import { RuleEngine } from '../../rules/engine.ts';
import type { RulesEvent } from '../../rules/events.ts';
import { Directory } from '../../core/directory.ts';
import { EventBus } from '../../core/event-bus.ts';
import { MqttFanout } from '../../notify/mqtt-fanout.ts';
import type { PlatformEvent } from '../../work-items/events.ts';

export const RULES_SITE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'rules-site.json');

export interface EngineUnderTest {
  engine: RuleEngine;
  clock: ManualClock;
  events: RulesEvent[];
  published: { topic: string; payload: string; at: number }[];
  /** Feeds a telemetry reading. */
  tel(deviceId: string, props: Record<string, unknown>): void;
  /** Feeds an event reading. */
  ev(deviceId: string, event: string, data: Record<string, unknown>): void;
  /** Writes everything out and returns the events so far. */
  settle(): Promise<RulesEvent[]>;
}

/**
 * A real embedded store seeded from the rules test site, and rule engines on manual clocks over it:
 * the engine under test sees readings exactly as ingest hands them over, without the broker.
 */
export class RulesHarness {
  private constructor(readonly db: Db, readonly catalog: Catalog, private readonly dir: string) {}
  private engines: RuleEngine[] = [];

  static async open(): Promise<RulesHarness> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-rules-'));
    const db = await openTestStore(path.join(dir, 'store'));
    await migrate(db);
    const catalog = await loadCatalog();
    await seedSite(db, readSiteFile(RULES_SITE), catalog.ids(), path.join(dir, 'credentials.json'));
    return new RulesHarness(db, catalog, dir);
  }

  /** Forgets every alarm, incident, command, memory and override: each test starts clean. */
  async reset(): Promise<void> {
    for (const e of this.engines.splice(0)) await e.close();
    await this.db.exec('TRUNCATE alarms, incidents, alarm_commands, rule_memory, rule_overrides');
  }

  async engine(clock = new ManualClock()): Promise<EngineUnderTest> {
    const events: RulesEvent[] = [];
    const published: EngineUnderTest['published'] = [];
    const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    const publish = async (topic: string, payload: string) => void published.push({ topic, payload, at: clock.now() });
    // The engine's events go out on a bus as on the platform, with the MQTT fan-out on it.
    const bus = new EventBus<PlatformEvent>(log);
    new MqttFanout(bus, publish, log).start();
    bus.on('test', '*', (e) => void (e.kind !== 'work_item' && events.push(e)));
    const directory = new Directory(this.db);
    await directory.load();
    const engine = new RuleEngine({ db: this.db, catalog: this.catalog, log, clock, commandTimeoutMs: 5000, publish, bus, directory });
    await engine.start();
    this.engines.push(engine);
    const typeOf = (id: string) => this.catalog.ids().find((t) => id.includes(`-${t}-`))!;
    const reading = (deviceId: string, kind: 'telemetry' | 'event', data: Record<string, unknown>, event?: string): Reading => ({ deviceId, type: typeOf(deviceId), ts: clock.now(), kind, event, data, serverTs: false });
    return {
      engine,
      clock,
      events,
      published,
      tel: (deviceId, props) => engine.handleReading(reading(deviceId, 'telemetry', props)),
      ev: (deviceId, event, data) => engine.handleReading(reading(deviceId, 'event', data, event)),
      settle: async () => {
        await engine.flush();
        return events;
      },
    };
  }

  async close(): Promise<void> {
    for (const e of this.engines.splice(0)) await e.close();
    await this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The alarm events of one device and rule, by name. */
export function alarmEvents(events: RulesEvent[], deviceId: string, ruleId: string): string[] {
  return events.filter((e) => e.kind === 'alarm' && e.alarm.deviceId === deviceId && e.alarm.ruleId === ruleId).map((e) => e.event);
}
