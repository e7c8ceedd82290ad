/**
 * Named scenarios. Each asks for one device of a type to play a mode of its definition (DESIGN §3
 * behaviours live in devices/), or for a broker-level behaviour the simulator itself plays.
 */
export interface Scenario {
  name: string;
  description: string;
  /** Device type → mode for the first free device of that type. */
  modes?: { type: string; mode: string }[];
  /** Drop and reconnect a share of the devices mid-run. */
  offlineStorm?: { share: number };
  /** One device keeps sending malformed, oversize and unauthorised messages. */
  badDevice?: boolean;
}

export const SCENARIOS: Record<string, Scenario> = {
  normal: { name: 'normal', description: 'Every device behaves: heartbeats, bins filling through the day, rare detections' },
  fire: { name: 'fire', description: 'One smoke detector sees a fire: density climbs past 0.15 dB/m, heat past 57 °C, device alarm', modes: [{ type: 'smoke-detector', mode: 'fire' }] },
  'manhole-open': { name: 'manhole-open', description: 'One manhole cover is lifted: open, tilt 20–45°', modes: [{ type: 'manhole-cover', mode: 'open' }] },
  'bin-overflow': { name: 'bin-overflow', description: 'One bin fills to 100 % and is not emptied', modes: [{ type: 'overflow-bin', mode: 'overflow' }] },
  'ebike-repeat': { name: 'ebike-repeat', description: 'An e-bike is wheeled into one elevator again and again', modes: [{ type: 'ebike-elevator', mode: 'repeat' }] },
  'throw-repeat': { name: 'throw-repeat', description: 'Objects thrown again and again from the same floor', modes: [{ type: 'throw-camera', mode: 'throw' }] },
  'offline-storm': { name: 'offline-storm', description: 'Half the devices drop off abruptly and reconnect a few seconds later', offlineStorm: { share: 0.5 } },
  'bad-device': { name: 'bad-device', description: 'One device sends malformed, oversize and unauthorised messages between good ones', badDevice: true },
};

export function resolveScenarios(names: string[]): Scenario[] {
  return names.map((n) => {
    const s = SCENARIOS[n];
    if (!s) throw new Error(`unknown scenario "${n}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
    return s;
  });
}
