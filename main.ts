/** `npm start`: the platform alone, configured from the environment (README, "Configuration"). */
import { loadConfig } from './core/config.ts';
import { createLogger } from './core/logger.ts';
import { onShutdown } from './core/shutdown.ts';
import { startPlatform } from './platform.ts';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL, 'platform', config.LOG_FORMAT);
try {
  const platform = await startPlatform(config, { log });
  onShutdown(log, platform.stop);
} catch (err) {
  log.fatal({ err }, 'platform failed to start');
  process.exit(1);
}
