import { DIRECTION_LABELS, ITEM_KIND_LABELS, REPORT_CATEGORY_LABELS, RULE_PARAM_LABELS, TICKET_CATEGORY_LABELS, ACTION_LABELS, CHANNEL_LABELS, NOTICE_LABELS, DEPARTMENT_LABELS, LEVEL_LABELS, ROLE_LABELS, SEVERITY_LABELS, splitLabel, STATUS_LABELS, type Label } from '../../core/vocabulary.ts';
import type { ApiDeps, App } from '../deps.ts';

/** `smoke-detector` → `Smoke detector`: a device type's English name where the catalog gives only the Chinese. */
const humanize = (id: string) => id.charAt(0).toUpperCase() + id.slice(1).replaceAll('-', ' ');

export default async function vocabularyRoutes(app: App, deps: ApiDeps) {
  // Built once: the catalog does not change while the platform runs.
  const types = [...deps.catalog.types.values()];
  const body = {
    statuses: STATUS_LABELS,
    actions: ACTION_LABELS,
    notices: NOTICE_LABELS,
    channels: CHANNEL_LABELS,
    severities: SEVERITY_LABELS,
    departments: DEPARTMENT_LABELS,
    roles: ROLE_LABELS,
    levels: LEVEL_LABELS,
    itemKinds: ITEM_KIND_LABELS,
    ruleParams: RULE_PARAM_LABELS,
    directions: DIRECTION_LABELS,
    categories: { tickets: TICKET_CATEGORY_LABELS, workOrders: REPORT_CATEGORY_LABELS },
    deviceTypes: Object.fromEntries(types.map((t) => [t.id, { zh: t.definition.name, en: humanize(t.id) } satisfies Label])),
    properties: Object.fromEntries(types.map((t) => [t.id, Object.fromEntries(Object.entries(t.definition.props).map(([k, p]) => [k, splitLabel(p.label)]))])),
    // An event's words come from the panel that shows it (`抛物检测 Throw detections`), else its name.
    events: Object.fromEntries(types.map((t) => [t.id, Object.fromEntries(Object.keys(t.definition.events).map((e) => {
      const panel = t.definition.panels.find((p) => p.props.includes(e));
      return [e, panel ? splitLabel(panel.title) : { zh: e, en: e.replaceAll('_', ' ') }];
    }))])),
    rules: Object.fromEntries(types.flatMap((t) => t.rules.map((r) => [r.id, { zh: r.title ?? r.description, en: r.description } satisfies Label]))),
  };
  app.get('/vocabulary', {
    schema: { tags: ['platform'], summary: 'The labels of statuses, actions, severities, departments, roles, levels, device types, properties, rules and their parameters in Chinese and English, so every client shows the same words (no auth)' },
  }, async () => body);
}
