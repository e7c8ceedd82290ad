import { DEVICES_DIR, loadDeviceCatalog, type Catalog as DeviceCatalog, type DeviceType as DeviceTypeOf } from '../devices/lib/catalog.ts';
import { compileRule, type Rule } from './kinds/index.ts';

export { DEVICES_DIR };
/** The catalog with its rules parsed by their kinds. */
export type Catalog = DeviceCatalog<Rule>;
export type DeviceType = DeviceTypeOf<Rule>;

/** The device catalog with its rules parsed by their kinds: what the platform, tools and tests load. */
export function loadCatalog(dir: string = DEVICES_DIR): Promise<Catalog> {
  return loadDeviceCatalog(dir, compileRule);
}
