import { z } from 'zod';
import { SEVERITIES } from '../../core/domain.ts';
import { getAlarm, listAlarms } from '../../rules/alarm-store.ts';
import { listCommands } from '../../rules/command-store.ts';
import { getIncident, listIncidents } from '../../rules/incident-store.ts';
import { inScope } from '../../core/reach.ts';
import { notFound } from '../errors.ts';
import type { ApiDeps, App } from '../deps.ts';

const page = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
};

const alarmFilter = z.object({
  state: z.enum(['pending', 'active', 'clearing', 'cleared', 'open']).optional().describe('`open` = pending, active or clearing'),
  deviceId: z.string().optional(),
  ruleId: z.string().optional(),
  gridId: z.string().optional(),
  communityId: z.string().optional(),
  severity: z.enum(SEVERITIES).optional(),
  incidentId: z.string().optional(),
  ...page,
});

export default async function alarmRoutes(app: App, deps: ApiDeps) {
  app.get('/alarms', {
    schema: { tags: ['alarms'], summary: 'Alarms, newest first, with their evidence', querystring: alarmFilter },
  }, async (req) => listAlarms(deps.db, { ...req.query, scope: req.scope }));

  app.get('/alarms/:id', {
    schema: { tags: ['alarms'], summary: 'One alarm with its evidence and the commands sent to the device for it', params: z.object({ id: z.string() }) },
  }, async (req) => {
    const alarm = await getAlarm(deps.db, req.params.id);
    if (!alarm || !inScope(req.scope, alarm)) throw notFound('alarm', req.params.id);
    return { ...alarm, commands: await listCommands(deps.db, alarm.id) };
  });

  app.get('/incidents', {
    schema: {
      tags: ['alarms'],
      summary: 'Storms: alarms of one kind from several devices of one building or grid, grouped',
      querystring: z.object({ state: z.enum(['open', 'closed']).optional(), scopeId: z.string().optional(), ...page }),
    },
  }, async (req) => listIncidents(deps.db, { ...req.query, scope: req.scope }));

  app.get('/incidents/:id', {
    schema: { tags: ['alarms'], summary: 'One incident with its alarms', params: z.object({ id: z.string() }) },
  }, async (req) => {
    const incident = await getIncident(deps.db, req.params.id);
    if (!incident || !inScope(req.scope, incident)) throw notFound('incident', req.params.id);
    return { ...incident, alarms: (await listAlarms(deps.db, { incidentId: incident.id, limit: 500, scope: req.scope })).items };
  });
}
