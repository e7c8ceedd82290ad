import { defineDevice } from './lib/define.ts';
import { heartbeat, online } from './lib/facets.ts';
import { alink, bool, confidence, num, url } from './lib/props.ts';

interface State { floors: number; blocked: boolean; repeatFloor: number }

/** 高空抛物摄像机: an upward-looking camera at the foot of a building with on-device detection. */
export default defineDevice<State>({
  id: 'throw-camera',
  name: '高空抛物摄像机',
  description: 'Camera watching a facade for objects thrown from height; detects on the device and reports the floor.',
  extend: [online(), heartbeat(60)],
  props: {
    lensBlocked: alink('LensBlocked', bool('镜头遮挡 lens blocked')),
  },
  events: {
    throw_detected: {
      floor: num('楼层 floor', '', -5, 200, true),
      confidence: confidence(),
      snapshotUrl: url('抓拍 snapshot'),
    },
  },
  alinkEvents: { ThrowDetected: 'throw_detected' },
  rules: [
    {
      id: 'throw-detected', title: '高空抛物', kind: 'event', event: 'throw_detected', minConfidence: 0.8, clearAfterS: 600,
      description: 'Object thrown from height (confidence ≥ 0.8)',
      repeat: { sameField: 'floor', windowS: 86_400, whistle: ['police'] },
      raises: { item: 'work_order', severity: 'major' },
    },
    { id: 'throw-lens-blocked', title: '镜头遮挡', kind: 'boolean', prop: 'lensBlocked', holdS: 300, verifyS: 60, description: 'Lens blocked for 5 min', raises: { item: 'ticket', severity: 'minor', autoClose: true, category: 'camera' } },
  ],
  simulate: {
    modes: ['throw', 'lens-blocked'],
    init: (rng) => ({ floors: Math.round(rng.between(6, 33)), blocked: false, repeatFloor: 0 }),
    tick(s, { rng, mode, now }) {
      s.blocked = mode === 'lens-blocked';
      const events = [];
      if (mode === 'throw') {
        s.repeatFloor ||= Math.round(rng.between(3, s.floors));
        events.push(detection(s.repeatFloor, rng.between(0.85, 0.99), now));
      } else if (rng.chance(0.0003)) {
        events.push(detection(Math.round(rng.between(2, s.floors)), rng.between(0.4, 0.95), now));
      }
      return { props: { lensBlocked: s.blocked }, events };
    },
  },
  panels: [
    { title: '抛物检测 Throw detections', props: ['throw_detected'], kind: 'events' },
    { title: '镜头遮挡 Lens blocked', props: ['lensBlocked'], kind: 'stat' },
  ],
});

function detection(floor: number, conf: number, now: number) {
  return {
    event: 'throw_detected',
    data: { floor, confidence: Math.round(conf * 100) / 100, snapshotUrl: `https://snapshots.example.invalid/throw/${now}.jpg` },
  };
}
