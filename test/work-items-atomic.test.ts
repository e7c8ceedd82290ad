import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS, permitted, STATUSES, TRANSITIONS } from '../work-items/transitions.ts';
import type { WorkItemEvent } from '../work-items/events.ts';
import { ManualClock } from '../rules/clock.ts';
import { connectDevice, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

const SITE = path.join(import.meta.dirname, 'fixtures', 'workitems-site.json');
let p: TestPlatform;
const clock = new ManualClock(Date.now());
let tokens: Record<string, string>;
const events: WorkItemEvent[] = [];

beforeAll(async () => {
  p = await startTestPlatform({ SITE_FILE: SITE }, { clock });
  tokens = Object.fromEntries((JSON.parse(readFileSync(path.join(p.dataDir, 'user-tokens.json'), 'utf8')).users as { id: string; token: string }[]).map((u) => [u.id, u.token]));
  p.bus.on('test', 'work_item', (e) => void events.push(e));
  // The store refuses a timeline entry on cue: a failure between the item's row and its entry.
  await p.db.exec(`
    CREATE FUNCTION test_refuse_entry() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.note = 'refuse me' OR (NEW.action = 'count' AND EXISTS (SELECT 1 FROM platform_settings WHERE key = 'test_refuse_count')) THEN
        RAISE EXCEPTION 'timeline write refused (test)';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER test_refuse_entry BEFORE INSERT ON work_item_events FOR EACH ROW EXECUTE FUNCTION test_refuse_entry();`);
});
afterAll(async () => {
  await p?.dispose();
});

const itemOf = async (id: string) => (await p.api('GET', `/api/v1/tickets/${id}`)).body;

describe('a transition is the item and its timeline entry, or neither', () => {
  it('a person\'s action whose timeline entry the store refuses leaves the item where it was, with no event', async () => {
    const filed = (await p.api('POST', '/api/v1/tickets', { category: 'door', description: '单元门坏了', buildingId: 'ba1' }, tokens['res-1'])).body;
    const before = await itemOf(filed.id);
    const eventsBefore = events.length;
    const r = await p.api('POST', `/api/v1/tickets/${filed.id}/actions`, { action: 'accept', note: 'refuse me' }, tokens['pm-1']);
    expect(r.status).toBe(500);
    const after = await itemOf(filed.id);
    expect(after).toMatchObject({ status: 'collected', version: before.version, acceptedAt: null });
    expect(after.timeline).toEqual(before.timeline);
    expect(events.slice(eventsBefore).filter((e) => e.item.id === filed.id)).toEqual([]);
    // The same action with a note the store takes goes through, so the refusal was the entry's alone.
    expect((await p.api('POST', `/api/v1/tickets/${filed.id}/actions`, { action: 'accept', note: 'ok' }, tokens['pm-1'])).body).toMatchObject({ status: 'accepted' });
    expect((await itemOf(filed.id)).timeline.map((e: { action: string }) => e.action)).toEqual(['collect', 'accept']);
  });

  it('a repeat the platform counts on an open item is not counted when its timeline entry fails', async () => {
    // The detector's own alarm: a work order that does not close itself, so a second alarm counts on it.
    const cred = p.credentials.find((c) => c.id === 'ba2-smoke-detector-1')!;
    const dev = await connectDevice(p, cred);
    const publish = async (alarm: boolean) => {
      await dev.publishAsync(`v1/smoke-detector/${cred.id}/telemetry`, JSON.stringify({ props: { alarm } }), { qos: 1 });
      await p.rules.flush();
      await p.workItems.idle();
    };
    const raiseAgain = async () => {
      await publish(false);
      clock.advance(61_000); // past the rule's verify time: cleared
      await publish(true);
      await p.rules.flush();
      await p.workItems.idle();
    };
    await publish(true);
    const open = async () => (await p.db.query<{ id: string; count: number; version: number }>(`SELECT id, count, version FROM work_items WHERE device_id = $1 AND status = 'collected'`, [cred.id])).rows[0]!;
    const first = await open();
    expect(first).toBeDefined();
    await p.db.query(`INSERT INTO platform_settings (key, value) VALUES ('test_refuse_count', '1')`);
    await raiseAgain();
    expect(await open()).toEqual(first);
    await p.db.query(`DELETE FROM platform_settings WHERE key = 'test_refuse_count'`);
    await raiseAgain();
    expect((await open()).count).toBe(first.count + 1);
    await dev.endAsync();
  });
});

describe('the rows of a step are part of its transaction', () => {
  it('a whistle whose timeline entry the store refuses leaves no whistle behind', async () => {
    const wo = (await p.db.query<{ id: string }>(`SELECT id FROM work_items WHERE device_id = 'ba2-smoke-detector-1' AND status = 'collected'`)).rows[0]!;
    const whistled = async () => (await p.db.query<{ department: string }>('SELECT department FROM work_item_whistles WHERE item_id = $1 ORDER BY department', [wo.id])).rows.map((r) => r.department);
    const before = await whistled();
    const r = await p.api('POST', `/api/v1/work-orders/${wo.id}/actions`, { action: 'whistle', departments: ['police'], note: 'refuse me' }, tokens['gw-a']);
    expect(r.status).toBe(500);
    expect(await whistled()).toEqual(before);
    expect(before).not.toContain('police');
    expect((await p.api('POST', `/api/v1/work-orders/${wo.id}/actions`, { action: 'whistle', departments: ['police'] }, tokens['gw-a'])).status).toBe(200);
    expect(await whistled()).toContain('police');
  });
});

describe('the platform goes through the same table', () => {
  it('auto_close is the platform\'s alone; merge the platform\'s and the dispatchers\'; both only from open statuses', () => {
    for (const status of STATUSES) {
      const open = status !== 'closed' && status !== 'rejected';
      expect(permitted('auto_close', 'work_order', status, 'platform')).toBe(open);
      expect(permitted('auto_close', 'work_order', status, 'admin')).toBe(false);
      for (const who of ['platform', 'admin', 'community_dispatcher', 'street_dispatcher'] as const) expect(permitted('merge', 'work_order', status, who)).toBe(open);
      for (const who of ['grid_worker', 'property_manager', 'resident'] as const) expect(permitted('merge', 'work_order', status, who)).toBe(false);
    }
  });

  it('the platform takes only the actions the table names it for', () => {
    const platformActions = ACTIONS.filter((a) => TRANSITIONS[a].roles.includes('platform'));
    expect(platformActions.sort()).toEqual(['auto_close', 'escalate', 'merge', 'reopen', 'urgent', 'verify', 'whistle']);
    expect(permitted('accept', 'work_order', 'collected', 'platform')).toBe(false);
  });
});
