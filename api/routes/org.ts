import { z } from 'zod';
import { buildOrgTree, listOrgUnits, ORG_KINDS, type OrgNode } from '../../core/store/org.ts';
import type { ApiDeps, App } from '../deps.ts';

const orgNode: z.ZodType<OrgNode> = z.lazy(() =>
  z.object({ id: z.string(), kind: z.enum(ORG_KINDS), parentId: z.string().nullable(), name: z.string(), children: z.array(orgNode) }),
);

export default async function orgRoutes(app: App, deps: ApiDeps) {
  app.get('/org', { schema: { tags: ['org'], summary: 'The org tree: street → communities → grids → micro-grids → buildings', response: { 200: z.object({ items: z.array(orgNode) }) } } }, async () => ({
    items: buildOrgTree(await listOrgUnits(deps.db)),
  }));
}
