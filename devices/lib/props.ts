/**
 * Property presets, in the manner of zigbee-herdsman-converters' modernExtend: a device file
 * composes its properties from these, and each carries its unit, plausible range and label.
 */
export interface NumberProp {
  kind: 'number';
  unit: string;
  min: number;
  max: number;
  integer?: boolean;
  label: string;
  alink?: string;
}
export interface BooleanProp {
  kind: 'boolean';
  label: string;
  alink?: string;
}
export interface StringProp {
  kind: 'string';
  format?: 'url';
  maxLength: number;
  label: string;
  alink?: string;
}
export type PropSpec = NumberProp | BooleanProp | StringProp;

/**
 * The identifier an Alibaba Cloud IoT (Alink) thing model gives this property, where it differs
 * from ours (`BatteryPercentage` for `batteryPct`): firmware written for Alink posts it unchanged,
 * and broker/alink.ts maps it. Our own name is always accepted too.
 */
export const alink = <P extends PropSpec>(identifier: string, spec: P): P => ({ ...spec, alink: identifier });

export const num = (label: string, unit: string, min: number, max: number, integer = false): NumberProp => ({ kind: 'number', label, unit, min, max, integer });
export const bool = (label: string): BooleanProp => ({ kind: 'boolean', label });
export const url = (label: string): StringProp => ({ kind: 'string', format: 'url', maxLength: 2048, label });

export const batteryPct = () => alink('BatteryPercentage', num('电量 battery', '%', 0, 100));
export const temperatureC = (min = -40, max = 125) => alink('CurrentTemperature', num('温度 temperature', '°C', min, max));
export const tiltDeg = () => alink('TiltAngle', num('倾角 tilt', '°', 0, 180));
export const confidence = () => num('置信度 confidence', '', 0, 1);
