import { defineDevice, round } from './lib/define.ts';
import { battery, heartbeat, tilt } from './lib/facets.ts';
import { alink, num, temperatureC } from './lib/props.ts';

interface State { fill: number; ratePerH: number; temp: number; lastHour: number }

/** Collection hours (Asia/Shanghai) when the cleaning crew empties the bins: 垃圾分类定时定点投放. */
const COLLECTION_HOURS = [7, 19];

/** 满溢垃圾桶: ultrasonic fill-level sensor in a community bin. */
export default defineDevice<State>({
  id: 'overflow-bin',
  name: '满溢垃圾桶',
  description: 'Bin fill level (ultrasonic), temperature (smouldering rubbish), tilt (knocked over), battery.',
  // tilt(): a knocked-over bin raises a ticket.
  extend: [tilt(), battery({ drainPctPerS: 0.000_01 }), heartbeat(60)],
  props: {
    fillPct: alink('FillLevel', num('满溢度 fill level', '%', 0, 100)),
    temperatureC: temperatureC(),
  },
  events: {},
  rules: [
    { id: 'bin-full', title: '垃圾桶将满', kind: 'threshold', prop: 'fillPct', trigger: 80, clear: 30, description: 'Bin ≥ 80 % full (clears when emptied)', raises: { item: 'ticket', severity: 'minor', autoClose: true, category: 'sanitation' } },
    { id: 'bin-overflow', title: '垃圾桶满溢', kind: 'threshold', prop: 'fillPct', trigger: 100, clear: 30, holdS: 1800, description: 'Bin overflowing for 30 min', raises: { item: 'work_order', severity: 'minor', autoClose: true, category: 'environment' } },
    { id: 'bin-fire', title: '垃圾桶温度过高（火险）', kind: 'threshold', prop: 'temperatureC', trigger: 60, clear: 45, verifyS: 300, description: 'Bin temperature ≥ 60 °C (fire risk)', raises: { item: 'work_order', severity: 'critical', whistle: ['fire_brigade'] } },
  ],
  simulate: {
    modes: ['overflow', 'fire'],
    init: (rng) => ({ fill: rng.between(5, 60), ratePerH: rng.between(3, 8), temp: rng.between(15, 28), lastHour: -1 }),
    tick(s, { rng, mode, dtS, now }) {
      const hour = new Date(now + 8 * 3_600_000).getUTCHours(); // Asia/Shanghai, no DST
      if (hour !== s.lastHour && COLLECTION_HOURS.includes(hour) && mode !== 'overflow') s.fill = rng.between(0, 5);
      s.lastHour = hour;
      s.fill = mode === 'overflow' ? Math.min(100, s.fill + rng.between(8, 15)) : Math.min(100, s.fill + (s.ratePerH * dtS) / 3600);
      s.temp = mode === 'fire' ? Math.min(120, s.temp + rng.between(5, 10)) : Math.max(5, Math.min(35, s.temp + rng.between(-0.3, 0.3)));
      return { props: { fillPct: round(s.fill, 0), temperatureC: round(s.temp, 1) } };
    },
  },
  panels: [
    { title: '满溢度 Fill level', props: ['fillPct'], unit: '%' },
    { title: '温度 Temperature', props: ['temperatureC'], unit: '°C' },
  ],
});
