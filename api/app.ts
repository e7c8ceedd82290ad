import Fastify, { type FastifyBaseLogger } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from '../core/logger.ts';
import { bearerGuard } from './auth.ts';
import { installReach, withReach } from './reach.ts';
import { LiveStreams } from './live-streams.ts';
import type { ApiDeps, App } from './deps.ts';
import { DomainError, inLanguage } from '../core/errors.ts';
import { fastifyText, validationMessage } from './validation-text.ts';
import { pickLanguage } from './language.ts';
import { firstUnstorable } from '../core/storable.ts';
import { ApiError, fromDomain } from './errors.ts';
import alarmRoutes from './routes/alarms.ts';
import auditRoutes from './routes/audit.ts';
import deviceRoutes from './routes/devices.ts';
import healthRoutes from './routes/health.ts';
import { registerMetrics } from './metrics.ts';
import { isUnreachable } from '../core/store/db.ts';
import orgRoutes from './routes/org.ts';
import meRoutes from './routes/me.ts';
import { serveConsole } from './console.ts';
import sessionRoutes from './routes/session.ts';
import notifyRoutes from './routes/notify.ts';
import ruleRoutes from './routes/rules.ts';
import serviceAccountRoutes from './routes/service-accounts.ts';
import userRoutes from './routes/users.ts';
import overviewRoutes from './routes/overview.ts';
import workItemRoutes from './routes/work-items.ts';
import photoRoutes from './routes/photos.ts';
import vocabularyRoutes from './routes/vocabulary.ts';

/** Builds the HTTP app without listening, so tests can `inject()` and the platform can `listen()`. */
export async function buildApp(deps: ApiDeps, log: Logger): Promise<App> {
  const app = Fastify({ loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger, bodyLimit: 1024 * 1024, forceCloseConnections: true, trustProxy: deps.trustProxy ?? false }).withTypeProvider<ZodTypeProvider>();
  // Connections per address: beyond the limit a new one is closed at once.
  app.server.on('connection', (socket) => {
    const release = deps.limits.httpConnections.acquire(socket.remoteAddress ?? 'unknown');
    if (!release) return void socket.destroy();
    socket.once('close', release);
  });
  app.decorate('liveStreams', new LiveStreams());
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler((err, req, reply) => {
    const lang = pickLanguage(req.headers['accept-language']);
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issue = err.validation[0]!;
      const field = issue.instancePath.replace(/^\//, '').replaceAll('/', '.') || (issue.params as { missingProperty?: string })?.missingProperty || '(body)';
      const where = `${err.validationContext ?? 'request'}.${field}`;
      return reply.code(400).send({ error: 'bad_request', message: `${where}${lang === 'zh' ? '：' : ': '}${validationMessage(issue, lang)}`, field });
    }
    if (err instanceof DomainError) err = fromDomain(err);
    // The store is down or restarting: nothing was done; the client tries again shortly.
    if (isUnreachable(err)) {
      reply.header('retry-after', '5');
      req.log.warn({ err: (err as Error).message, url: req.url }, 'store unavailable: answered 503');
      return reply.code(503).send({ error: 'store_unavailable', message: inLanguage({ zh: '数据存储暂时不可用，请稍后重试', en: 'the store is unavailable for the moment; try again shortly' }, lang) });
    }
    if (err instanceof ApiError) return reply.code(err.statusCode).send({ error: err.code, message: inLanguage(err.text, lang), ...err.extra });
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) req.log.error({ err, url: req.url }, 'request failed');
    const code = status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : status < 500 ? 'bad_request' : 'internal';
    return reply.code(status).send({ error: code, message: inLanguage(status >= 500 ? { zh: '内部错误', en: 'internal error' } : fastifyText(err as Error & { code?: string }), lang) });
  });
  // Text no store can hold (U+0000, an unpaired surrogate) is refused at the edge, for every route,
  // in the path, the query and the body alike: a 400 naming the field, never a 500 from the store.
  app.addHook('preValidation', async (req) => {
    for (const [part, value] of [['params', req.params], ['querystring', req.query], ['body', req.body]] as const) {
      const field = firstUnstorable(value);
      if (field) throw new ApiError(400, 'bad_request', { zh: `${part}.${field}：含有无法存储的 U+0000 或不成对的代理字符`, en: `${part}.${field}: contains U+0000 or an unpaired surrogate, which cannot be stored` }, { field });
    }
  });

  // Security headers on every answer. The CSP is the console's: its pages load only from here
  // (sites run offline), no inline script, never framed. /docs (Swagger UI) brings its own inline script.
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    if (!req.url.startsWith('/docs')) reply.header('content-security-policy', "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    // Nothing an API answer carries (alarms, tickets, tokens) belongs in a shared or browser cache.
    if (req.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', message: inLanguage({ zh: `没有此接口：${req.method} ${req.url}`, en: `no route ${req.method} ${req.url}` }, pickLanguage(req.headers['accept-language'])) }));

  await app.register(swagger, {
    openapi: {
      info: { title: '智慧物业安全感知平台 API', version: '1.0.0', description: 'REST API of the smart-property safety sensing platform (DESIGN §5).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await serveConsole(app);
  registerMetrics(app, deps);

  await app.register(
    async (api: App) => {
      await api.register(healthRoutes, deps);
      await api.register(vocabularyRoutes, deps);
      await api.register(sessionRoutes, deps);
      // Everything else under /api/v1 needs a token.
      await api.register(async (secured: App) => {
        secured.addHook('onRequest', bearerGuard(deps.adminTokenSha256, deps.db, deps.limits, log.child({ component: 'http' })));
        // One access rule for every route: each names the kind of data it reaches (core/reach.ts).
        installReach(secured);
        await secured.register(withReach('org', orgRoutes), deps);
        // Your own record: every signed-in person reaches the org tree, and this is only theirs.
        await secured.register(withReach('org', meRoutes), deps);
        await secured.register(notifyRoutes, deps);
        await secured.register(workItemRoutes, deps);
        await secured.register(overviewRoutes, deps);
        await secured.register(photoRoutes, deps);
        await secured.register(withReach('alarms', alarmRoutes), deps);
        await secured.register(withReach('admin', deviceRoutes), deps);
        await secured.register(withReach('admin', serviceAccountRoutes), deps);
        await secured.register(withReach('admin', ruleRoutes), deps);
        await secured.register(withReach('admin', userRoutes), deps);
        await secured.register(withReach('admin', auditRoutes), deps);
      });
    },
    { prefix: '/api/v1' },
  );
  return app;
}
