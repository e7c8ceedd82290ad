import mqtt from 'mqtt';
import { performance } from 'node:perf_hooks';

/**
 * Measures breach → work item: each sample is one smoke detector reporting `tamper: true` (a rule
 * that raises a ticket), timed until `platform/workitems/created/...` for that device reaches a
 * service account. Every sample uses a device of its own, so none is a relapse of an earlier one.
 * The probe devices share buildings, so their alarms also form a tamper storm: each new item is
 * created, then folded into the incident's, and that gathering runs while later samples are timed.
 */
export async function workItemProbe(o: { url: string; httpUrl: string; adminToken: string; devices: { id: string; secret: string }[] }) {
  const res = await fetch(`${o.httpUrl}/api/v1/service-accounts`, { method: 'POST', headers: { authorization: `Bearer ${o.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench work-item watcher', subscribe: ['platform/workitems/#'] }) });
  if (!res.ok) throw new Error(`creating the watcher account: ${res.status} ${await res.text()}`);
  const account = (await res.json()) as { username: string; secret: string };
  const watcher = await mqtt.connectAsync(o.url, { clientId: account.username, username: account.username, password: account.secret, reconnectPeriod: 0 });
  await watcher.subscribeAsync('platform/workitems/created/#', { qos: 1 });
  const waiting = new Map<string, (at: number) => void>();
  watcher.on('message', (_topic, payload) => {
    const deviceId = (JSON.parse(payload.toString()) as { item?: { deviceId?: string } }).item?.deviceId;
    if (deviceId) waiting.get(deviceId)?.(performance.now());
  });
  let next = 0;
  return {
    /** One sample: ms from the breach's publish to the work item's announcement, or null after 10 s. */
    async sample(): Promise<number | null> {
      const d = o.devices[next++];
      if (!d) throw new Error('probe devices used up');
      const dev = await mqtt.connectAsync(o.url, { clientId: d.id, username: d.id, password: d.secret, reconnectPeriod: 0 });
      try {
        const created = new Promise<number | null>((resolve) => {
          const timer = setTimeout(() => resolve(null), 10_000);
          waiting.set(d.id, (at) => (clearTimeout(timer), resolve(at)));
        });
        const t0 = performance.now();
        await dev.publishAsync(`v1/smoke-detector/${d.id}/telemetry`, JSON.stringify({ props: { tamper: true } }), { qos: 1 });
        const at = await created;
        waiting.delete(d.id);
        return at === null ? null : at - t0;
      } finally {
        await dev.endAsync();
      }
    },
    close: () => watcher.endAsync(),
  };
}
