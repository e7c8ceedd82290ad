import { defineDevice } from './lib/define.ts';
import { heartbeat, online } from './lib/facets.ts';
import { alink, bool, confidence, url } from './lib/props.ts';

interface State { held: boolean }

/** 电梯电动车识别: AI camera in the car that spots e-bikes, holds the door and speaks a warning. */
export default defineDevice<State>({
  id: 'ebike-elevator',
  name: '电梯电动车识别',
  description: 'Elevator camera that detects e-bikes (电动车进电梯), holds the door open and warns by voice.',
  extend: [online(), heartbeat(60)],
  props: {
    doorHeld: alink('DoorHeld', bool('梯门保持 door held')),
  },
  events: {
    ebike_detected: { confidence: confidence(), snapshotUrl: url('抓拍 snapshot') },
  },
  alinkEvents: { EBikeDetected: 'ebike_detected' },
  rules: [
    {
      id: 'ebike-detected', title: '电动车进电梯', kind: 'event', event: 'ebike_detected', minConfidence: 0.85, clearAfterS: 120,
      description: 'E-bike in the elevator: hold the door and warn',
      command: { name: 'hold_door', params: { voice: '电动车禁止进入电梯，请立即退出' } },
    },
    { id: 'ebike-repeat', title: '电动车反复进电梯', kind: 'count', event: 'ebike_detected', minConfidence: 0.85, count: 3, windowS: 3600, description: 'Third e-bike within an hour at the same elevator', raises: { item: 'ticket', severity: 'major', category: 'ebike' } },
  ],
  simulate: {
    modes: ['repeat'],
    init: () => ({ held: false }),
    tick(s, { rng, mode, now }) {
      const detected = mode === 'repeat' || rng.chance(0.0005);
      s.held = detected;
      return {
        props: { doorHeld: s.held },
        events: detected
          ? [{ event: 'ebike_detected', data: { confidence: Math.round(rng.between(0.86, 0.99) * 100) / 100, snapshotUrl: `https://snapshots.example.invalid/ebike/${now}.jpg` } }]
          : [],
      };
    },
  },
  panels: [
    { title: '电动车识别 E-bike detections', props: ['ebike_detected'], kind: 'events' },
    { title: '梯门保持 Door held', props: ['doorHeld'], kind: 'stat' },
  ],
});
