import { defineDevice, round } from './lib/define.ts';
import { battery, heartbeat } from './lib/facets.ts';
import { alink, bool, num, tiltDeg } from './lib/props.ts';

interface State { tilt: number; water: number; gas: number }

/** 智能井盖: tilt/open sensor with water-level and combustible-gas probes, under a municipal or estate cover. */
export default defineDevice<State>({
  id: 'manhole-cover',
  name: '智能井盖',
  description: 'Manhole cover monitor: tilt, open, distance from water to cover, gas, battery.',
  // A lifted cover's tilt is a critical work order of its own below, not the knocked-over ticket of tilt().
  extend: [battery({ drainPctPerS: 0.000_01 }), heartbeat(60)],
  props: {
    tiltDeg: tiltDeg(),
    open: alink('CoverOpen', bool('开盖 cover open')),
    waterLevelCm: alink('WaterLevel', num('水位距盖 water-to-cover distance', 'cm', 0, 1000)),
    gasPpm: alink('GasConcentration', num('可燃气体 gas', 'ppm', 0, 50_000)),
  },
  events: {},
  rules: [
    { id: 'manhole-open', title: '井盖开启', storm: { group: 'manhole-cover-off', scope: 'grid' }, kind: 'boolean', prop: 'open', verifyS: 60, description: 'Cover open', raises: { item: 'work_order', severity: 'critical', whistle: ['municipal_works'], autoClose: true } },
    { id: 'manhole-tilt', title: '井盖倾斜', storm: { group: 'manhole-cover-off', scope: 'grid' }, kind: 'threshold', prop: 'tiltDeg', trigger: 15, clear: 5, holdS: 5, verifyS: 60, description: 'Tilt ≥ 15° for 5 s', raises: { item: 'work_order', severity: 'critical', whistle: ['municipal_works'], autoClose: true } },
    { id: 'manhole-water', title: '井下水位过高（溢流风险）', kind: 'threshold', prop: 'waterLevelCm', direction: 'below', trigger: 30, clear: 40, verifyS: 600, description: 'Water within 30 cm of the cover (overflow risk)', raises: { item: 'work_order', severity: 'major', autoClose: true } },
    { id: 'manhole-gas', title: '可燃气体超标', kind: 'threshold', prop: 'gasPpm', trigger: 1000, clear: 500, verifyS: 300, description: 'Combustible gas ≥ 1000 ppm', raises: { item: 'work_order', severity: 'critical' } },
  ],
  simulate: {
    modes: ['open', 'flood', 'gas'],
    init: (rng) => ({ tilt: rng.between(0, 2), water: rng.between(80, 160), gas: rng.between(0, 40) }),
    tick(s, { rng, mode }) {
      s.tilt = mode === 'open' ? rng.between(20, 45) : Math.max(0, Math.min(3, s.tilt + rng.between(-0.3, 0.3)));
      s.water = mode === 'flood' ? Math.max(5, s.water - rng.between(15, 30)) : Math.max(60, Math.min(180, s.water + rng.between(-2, 2)));
      s.gas = mode === 'gas' ? Math.min(20_000, s.gas + rng.between(300, 600)) : Math.max(0, Math.min(60, s.gas + rng.between(-5, 5)));
      return {
        props: {
          tiltDeg: round(s.tilt, 1),
          open: mode === 'open',
          waterLevelCm: round(s.water, 0),
          gasPpm: round(s.gas, 0),
        },
      };
    },
  },
  panels: [
    { title: '倾角 Tilt', props: ['tiltDeg'], unit: '°' },
    { title: '水位距盖 Water to cover', props: ['waterLevelCm'], unit: 'cm' },
    { title: '可燃气体 Gas', props: ['gasPpm'], unit: 'ppm' },
  ],
});
