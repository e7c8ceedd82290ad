import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start real brokers and PGlite instances; two cores do not gain from more.
    maxWorkers: 2,
    pool: 'forks',
    // TEST_STORE=postgres: one PostgreSQL server for the run (the suites' stores are databases on it).
    globalSetup: ['test/setup/postgres.ts'],
  },
});
