import type { FastifyInstance, RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { PlatformBroker } from '../broker/broker.ts';
import type { Db } from '../core/store/db.ts';
import type { Catalog } from '../rules/catalog.ts';
import type { Ingest } from '../ingest/ingest.ts';
import type { RuleEngine } from '../rules/engine.ts';
import type { Directory } from '../core/directory.ts';
import type { EventBus } from '../core/event-bus.ts';
import type { Limits } from '../core/limits.ts';
import type { PlatformEvent } from '../work-items/events.ts';
import type { WorkItems } from '../work-items/service.ts';
import type { FlowsStatus } from '../notify/flows-process.ts';

/** What the HTTP surface needs from the rest of the platform. */
export interface ApiDeps {
  db: Db;
  catalog: Catalog;
  broker: PlatformBroker;
  ingest: Ingest;
  rules: RuleEngine;
  workItems: WorkItems;
  bus: EventBus<PlatformEvent>;
  /** Limits on guessing and floods (core/limits.ts), shared with the broker. */
  limits: Limits;
  /** Behind a reverse proxy (HTTP_TRUST_PROXY): the client's address is X-Forwarded-For's. */
  trustProxy?: boolean;
  directory: Directory;
  /** SHA-256 of the admin bearer token; the token itself is never kept. */
  adminTokenSha256: Buffer;
  /** The notification flows' state (notify/flows-process.ts), for health; undefined when they do not run. */
  notifications?: { status(): FlowsStatus | undefined };
  /** This node's name (cluster mode), the `node` label of the metrics. */
  nodeId?: string;
  /** The broker's listeners, for readiness (started before the API). */
  listeners?: { listening(): Record<string, boolean | null> };
}

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;
