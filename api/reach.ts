import type { FastifyRequest, RouteOptions } from 'fastify';
import { RESOURCES, scopeFor, type Resource, type Scope } from '../core/reach.ts';
import type { ApiDeps, App } from './deps.ts';
import { ROLE_LABELS } from '../core/vocabulary.ts';
import { ApiError } from './errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The kind(s) of data this route returns or changes (core/reach.ts); every secured route has one. */
    reach?: Resource | readonly Resource[];
  }
  interface FastifyRequest {
    /** The caller's scope for the route's (first) kind of data. */
    scope: Scope;
  }
}

/** A route plugin whose routes default to one kind of data (a route may name its own in `config.reach`). */
export function withReach(reach: Resource, plugin: (app: App, deps: ApiDeps) => Promise<void>) {
  return async (app: App, deps: ApiDeps) => {
    app.addHook('onRoute', (r) => {
      r.config = { ...r.config, reach: r.config?.reach ?? reach };
    });
    await plugin(app, deps);
  };
}

/**
 * Installs the one access rule on the secured API: at start, every route must name its kind of
 * data (or the platform does not start: a new route cannot forget it); per request, a caller whose
 * scope for it is empty gets 403, everyone else gets `req.scope` for the route to filter by.
 */
export function installReach(secured: App): void {
  const routes: RouteOptions[] = [];
  secured.addHook('onRoute', (r) => void routes.push(r as RouteOptions));
  secured.addHook('onReady', async () => {
    const missing = routes.filter((r) => !reachOf(r.config?.reach).length).map((r) => `${r.method} ${r.url}`);
    if (missing.length) throw new Error(`routes without config.reach (core/reach.ts: one of ${RESOURCES.join(', ')}): ${missing.join(', ')}`);
  });
  secured.addHook('preHandler', async (req: FastifyRequest) => {
    const kinds = reachOf(req.routeOptions.config.reach);
    const scopes = kinds.map((k) => scopeFor(req.user, k));
    if (scopes.every((s) => s.kind === 'none')) throw new ApiError(403, 'forbidden', { zh: `${ROLE_LABELS[req.user.role].zh}无权查看此类数据（${req.method} ${req.routeOptions.url}）`, en: `${req.user.role} may not reach ${kinds.join(' or ')} (${req.method} ${req.routeOptions.url})` });
    req.scope = scopes.find((s) => s.kind !== 'none')!;
  });
}

const reachOf = (r: Resource | readonly Resource[] | undefined): readonly Resource[] => (r === undefined ? [] : typeof r === 'string' ? [r] : r);
