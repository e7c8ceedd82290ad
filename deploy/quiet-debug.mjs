// Preloaded by deploy/run.sh (`node --import`), before any library loads: mqtt-packet's calls to
// the `debug` package cost the broker's thread even when no one reads them. Its parser calls
// debug() 15–20 times a packet, and each call builds its arguments into an array before it checks
// whether the namespace is enabled: 14 % of everything the broker's thread allocated under
// bench:platform's load (sampled with the inspector's heap profiler). Here a namespace that DEBUG
// does not enable at start gets a function that does nothing; one it enables gets debug's own.
// (`debug.enable()` called later at run time does not reach the quiet ones: set DEBUG before start.)
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// The copy of debug that mqtt-packet (the one aedes uses) resolves.
const debugPath = createRequire(require.resolve('mqtt-packet/parser.js')).resolve('debug');
const real = require(debugPath);

function quiet(namespace) {
  if (real.enabled(namespace)) return real(namespace);
  const off = () => {};
  off.namespace = namespace;
  off.enabled = false;
  off.extend = (sub, delimiter = ':') => quiet(namespace + delimiter + sub);
  off.log = () => {};
  off.destroy = () => false;
  return off;
}
Object.assign(quiet, real);
quiet.default = quiet;
require.cache[debugPath].exports = quiet;
