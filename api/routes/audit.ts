import { z } from 'zod';
import { listAudit } from '../../core/store/audit.ts';
import type { ApiDeps, App } from '../deps.ts';

export default async function auditRoutes(app: App, deps: ApiDeps) {
  app.get('/audit', {
    schema: {
      tags: ['platform'],
      summary: 'The admin audit trail: every administrative change (users, devices, service accounts, duty, rule overrides, credentials), newest first, append-only',
      querystring: z.object({
        targetKind: z.string().optional(),
        targetId: z.string().optional(),
        actorId: z.string().optional(),
        limit: z.coerce.number().int().min(1).max(500).default(100),
        offset: z.coerce.number().int().min(0).default(0),
      }),
    },
  }, async (req) => listAudit(deps.db, req.query));
}
