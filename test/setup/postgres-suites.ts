import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { POSTGRES_BIN, servicesRequired } from '../helpers/services.ts';

/**
 * `npm run test:postgres`: the store, rules and work-item suites again, on a PostgreSQL server
 * (TEST_STORE=postgres; the server is test/setup/postgres.ts's). Without Debian's postgresql the
 * run is skipped loudly, unless CI=true or REQUIRE_SERVICES=1, where it fails.
 */
const SUITES = ['test/storable.test.ts', 'test/readings-packs.test.ts', 'test/rules-alarms.test.ts', 'test/rules-broker.test.ts', 'test/rules-engine.test.ts', 'test/rules-restart.test.ts', 'test/work-items.test.ts', 'test/work-items-atomic.test.ts', 'test/work-items-e2e.test.ts', 'test/work-items-follow.test.ts', 'test/work-items-people.test.ts', 'test/work-items-restart.test.ts', 'test/overview.test.ts', 'test/security.test.ts', 'test/api.test.ts'];

if (!existsSync(path.join(POSTGRES_BIN, 'postgres'))) {
  if (servicesRequired) {
    console.error(`${POSTGRES_BIN}/postgres is not installed (apt-get install postgresql): the PostgreSQL store suites cannot run`);
    process.exit(1);
  }
  console.warn(`\n!!! ${POSTGRES_BIN}/postgres is not installed: the suites on PostgreSQL are SKIPPED (apt-get install postgresql; CI fails instead)\n`);
  process.exit(0);
}
const vitest = spawnSync(process.execPath, [path.join('node_modules', 'vitest', 'vitest.mjs'), 'run', ...SUITES, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, TEST_STORE: 'postgres' } });
process.exit(vitest.status ?? 1);
