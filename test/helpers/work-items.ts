import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Config } from '../../core/config.ts';
import { ManualClock } from '../../rules/clock.ts';
import type { WorkItemEvent } from '../../work-items/events.ts';
import { connectDevice, startTestPlatform, type TestPlatform } from './platform.ts';

/**
 * A platform on a site with people, a manual clock and the work-item events it emitted, with the
 * steps the work-item tests take: act as a person, send a device's telemetry, wait until the rules
 * and work items have acted.
 */
/** An API answer; its body is whatever JSON the route gives. */
type Answer = { status: number; body: any };

export interface WorkItemsHarness {
  p: TestPlatform;
  clock: ManualClock;
  events: WorkItemEvent[];
  tokens: Record<string, string>;
  /** An API call as this person (`admin`: the admin token). */
  as(who: string): { get(url: string, headers?: Record<string, string>): Promise<Answer>; post(url: string, body: unknown, headers?: Record<string, string>): Promise<Answer> };
  act(who: string, id: string, action: string, extra?: Record<string, unknown>, headers?: Record<string, string>): Promise<Answer>;
  send(deviceId: string, props: Record<string, unknown>): Promise<void>;
  settle(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startWorkItemsHarness(siteFile: string, overrides: Partial<Config> = {}): Promise<WorkItemsHarness> {
  const clock = new ManualClock(Date.now());
  const p = await startTestPlatform({ SITE_FILE: siteFile, ...overrides }, { clock });
  const tokens: Record<string, string> = Object.fromEntries((JSON.parse(readFileSync(path.join(p.dataDir, 'user-tokens.json'), 'utf8')).users as { id: string; token: string }[]).map((u) => [u.id, u.token]));
  const events: WorkItemEvent[] = [];
  p.bus.on('test', 'work_item', (e) => void events.push(e));
  const devices = new Map<string, MqttClient>();
  const token = (who: string) => (who === 'admin' ? undefined : tokens[who]);
  const as = (who: string) => ({
    get: (url: string, headers: Record<string, string> = {}) => p.api('GET', url, undefined, token(who), headers),
    post: (url: string, body: unknown, headers: Record<string, string> = {}) => p.api('POST', url, body, token(who), headers),
  });
  const settle = async () => {
    // Twice: a platform step (a whistle after an item's creation) may follow the rules' event.
    for (let i = 0; i < 2; i++) {
      await p.rules.flush();
      await p.workItems.idle();
    }
  };
  return {
    p, clock, events, tokens, as, settle,
    act: (who, id, action, extra = {}, headers = {}) => as(who).post(`/api/v1/${id.startsWith('WO') ? 'work-orders' : 'tickets'}/${id}/actions`, { action, ...extra }, headers),
    async send(deviceId, props) {
      const type = p.catalog.ids().find((t) => deviceId.includes(`-${t}-`))!;
      let c = devices.get(deviceId);
      if (!c) {
        c = await connectDevice(p, p.credentials.find((x) => x.id === deviceId)!);
        devices.set(deviceId, c);
      }
      await c.publishAsync(`v1/${type}/${deviceId}/telemetry`, JSON.stringify({ props }), { qos: 1 });
      await settle();
    },
    async dispose() {
      for (const c of devices.values()) await c.endAsync();
      await p.dispose();
    },
  };
}
