import type { TestProject } from 'vitest/node';
import { startPostgres } from '../helpers/services.ts';

/**
 * With TEST_STORE=postgres (`npm run test:postgres`), one PostgreSQL server for the whole run, on a
 * free loopback port in a temp folder; each store the tests open is a fresh database on it.
 */
export default async function setup(project: TestProject) {
  if (process.env.TEST_STORE !== 'postgres') return;
  const server = await startPostgres();
  project.provide('postgresUrl', server.url);
  return () => server.dispose();
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}
