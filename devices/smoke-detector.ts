import { defineDevice, round } from './lib/define.ts';
import { battery, heartbeat, tamper } from './lib/facets.ts';
import { alink, bool, num, temperatureC } from './lib/props.ts';

interface State { smoke: number; temp: number }

/** 独立式光电感烟火灾探测报警器 (GB 20517), NB-IoT/4G, reporting over MQTT. */
export default defineDevice<State>({
  id: 'smoke-detector',
  name: '烟感探测器',
  description: 'Photoelectric smoke alarm in a flat or stairwell: smoke density, temperature, own alarm verdict.',
  extend: [
    battery({ rule: { id: 'smoke-battery-low' } }),
    tamper({ rule: { id: 'smoke-tamper', title: '探测器被拆除', description: 'Detector removed from its base' } }),
    heartbeat(60, { rule: { id: 'smoke-silent' } }),
  ],
  props: {
    smokeDbPerM: alink('SmokeConcentration', num('烟雾浓度 smoke density', 'dB/m', 0, 5)),
    temperatureC: temperatureC(),
    alarm: alink('SmokeSensorState', bool('报警 device alarm verdict')),
  },
  events: { test_button: {} },
  alinkEvents: { SelfTest: 'test_button' },
  rules: [
    { id: 'smoke-device-alarm', title: '探测器火警', storm: { group: 'fire' }, kind: 'boolean', prop: 'alarm', description: 'The detector itself reports fire', verifyS: 60, raises: { item: 'work_order', severity: 'critical', whistle: ['fire_brigade'] } },
    { id: 'smoke-density', title: '烟雾浓度超标', storm: { group: 'fire' }, kind: 'threshold', prop: 'smokeDbPerM', trigger: 0.15, clear: 0.05, holdS: 10, verifyS: 60, description: 'Smoke density ≥ 0.15 dB/m for 10 s', raises: { item: 'work_order', severity: 'critical', whistle: ['fire_brigade'] } },
    { id: 'smoke-heat', title: '温度超标（定温火警）', storm: { group: 'fire' }, kind: 'threshold', prop: 'temperatureC', trigger: 57, clear: 50, verifyS: 60, description: 'Temperature ≥ 57 °C (fixed-temperature heat alarm)', raises: { item: 'work_order', severity: 'critical', whistle: ['fire_brigade'] } },
  ],
  simulate: {
    modes: ['fire'],
    init: (rng) => ({ smoke: rng.between(0.005, 0.03), temp: rng.between(18, 26) }),
    tick(s, { rng, mode, dtS }) {
      if (mode === 'fire') {
        s.smoke = Math.min(4, s.smoke + rng.between(0.04, 0.08) * Math.max(1, dtS / 5));
        s.temp = Math.min(110, s.temp + rng.between(1, 3));
      } else {
        s.smoke = Math.max(0, Math.min(0.04, s.smoke + rng.between(-0.004, 0.004)));
        s.temp = Math.max(10, Math.min(32, s.temp + rng.between(-0.2, 0.2)));
      }
      return {
        props: {
          smokeDbPerM: round(s.smoke, 3),
          temperatureC: round(s.temp, 1),
          alarm: s.smoke >= 0.3,
        },
        events: rng.chance(0.0005) ? [{ event: 'test_button', data: {} }] : [],
      };
    },
  },
  panels: [
    { title: '烟雾浓度 Smoke density', props: ['smokeDbPerM'], unit: 'dB/m' },
    { title: '温度 Temperature', props: ['temperatureC'], unit: '°C' },
  ],
});

