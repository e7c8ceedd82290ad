import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from './helpers/platform.ts';
import { haveBinary, POSTGRES_BIN, startPostgres } from './helpers/services.ts';
import path from 'node:path';

/** Liveness and readiness as an orchestrator or a load balancer asks for them. */
describe('GET /health/live and /health/ready', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform();
  });
  afterAll(() => p?.dispose());

  it('live answers; ready names the store and each broker listener', async () => {
    expect((await p.api('GET', '/api/v1/health/live', undefined, null)).body.status).toBe('ok');
    const ready = await p.api('GET', '/api/v1/health/ready', undefined, null);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
    expect(ready.body.checks).toMatchObject({ store: { ok: true, required: true }, 'broker.mqtt': { ok: true }, 'broker.ws': { ok: true } });
  });
});

describe.runIf(haveBinary(path.join(POSTGRES_BIN, 'postgres')))('readiness on a PostgreSQL server that goes away', () => {
  it('is 503 with Retry-After and the store\'s reason while PostgreSQL is stopped, and ready again once it is back', async () => {
    const server = await startPostgres();
    const p = await startTestPlatform({ DATABASE_URL: await server.database() });
    try {
      expect((await p.api('GET', '/api/v1/health/ready', undefined, null)).status).toBe(200);
      await server.stop();
      const down = await fetch(`http://127.0.0.1:${p.ports.http}/api/v1/health/ready`);
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
      const body = await down.json();
      expect(body.checks.store).toMatchObject({ ok: false, required: true });
      expect(body.checks.store.detail).toBeTruthy();
      expect(body.checks['broker.mqtt'].ok).toBe(true);
      await server.start();
      await expect.poll(async () => (await p.api('GET', '/api/v1/health/ready', undefined, null)).status, { timeout: 15_000 }).toBe(200);
    } finally {
      await p.dispose();
      await server.dispose();
    }
  }, 60_000);
});
