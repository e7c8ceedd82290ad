import type { Action, Channel, Department, Level, Role, Severity, Status } from './domain.ts';

/** A label in the platform's two languages: Chinese first, English available. */
export interface Label {
  zh: string;
  en: string;
}

/**
 * The words every client shows for the platform's fixed vocabulary (GET /api/v1/vocabulary): the
 * six steps as 数字城管 names them (GB/T 30428: 信息采集 → 立案 → 派遣 → 处置 → 反馈 → 核查结案),
 * actions, severities, departments, roles and escalation levels.
 */
export const STATUS_LABELS: Record<Status, Label> = {
  collected: { zh: '信息收集', en: 'Collected' },
  accepted: { zh: '立案受理', en: 'Accepted' },
  dispatched: { zh: '分流转办', en: 'Dispatched' },
  in_progress: { zh: '问题处置', en: 'In progress' },
  resolved: { zh: '结果反馈', en: 'Resolved' },
  closed: { zh: '核查结单', en: 'Closed' },
  rejected: { zh: '不予立案', en: 'Rejected' },
};

export const ACTION_LABELS: Record<Action, Label> = {
  accept: { zh: '受理', en: 'Accept' },
  dispatch: { zh: '派单', en: 'Dispatch' },
  grab: { zh: '抢单', en: 'Grab' },
  start: { zh: '开始处置', en: 'Start' },
  resolve: { zh: '处置完成', en: 'Resolve' },
  verify: { zh: '核查结单', en: 'Verify and close' },
  reject: { zh: '不予立案', en: 'Reject' },
  reopen: { zh: '重新打开', en: 'Reopen' },
  escalate: { zh: '上报升级', en: 'Escalate' },
  whistle: { zh: '吹哨', en: 'Whistle' },
  report_in: { zh: '报到', en: 'Report in' },
  transfer: { zh: '转派', en: 'Transfer' },
  return: { zh: '退单', en: 'Return' },
  rate: { zh: '评价', en: 'Rate' },
  revisit: { zh: '回访', en: 'Return visit' },
  auto_close: { zh: '无感销', en: 'Closed by the platform' },
  merge: { zh: '合并', en: 'Merge' },
  urgent: { zh: '紧急调度', en: 'Urgent dispatch' },
};

/** Timeline entries that are no step of the loop: what the notification flows recorded (flows/). */
export const NOTICE_LABELS = {
  notified: { zh: '已通知', en: 'Notified' },
  notify_failed: { zh: '通知未送达', en: 'Notification failed' },
} as const satisfies Record<string, Label>;

export const CHANNEL_LABELS: Record<Channel, Label> = {
  wecom: { zh: '企业微信', en: 'WeCom' },
  dingtalk: { zh: '钉钉', en: 'DingTalk' },
  sms: { zh: '短信', en: 'SMS' },
};

export const SEVERITY_LABELS: Record<Severity, Label> = {
  critical: { zh: '紧急', en: 'Critical' },
  major: { zh: '重要', en: 'Major' },
  minor: { zh: '一般', en: 'Minor' },
};

export const DEPARTMENT_LABELS: Record<Department, Label> = {
  fire_brigade: { zh: '消防救援', en: 'Fire brigade' },
  municipal_works: { zh: '市政', en: 'Municipal works' },
  police: { zh: '公安派出所', en: 'Police' },
  city_management: { zh: '城管', en: 'City management' },
};

export const ROLE_LABELS: Record<Role, Label> = {
  admin: { zh: '平台管理员', en: 'Administrator' },
  street_dispatcher: { zh: '街道指挥中心', en: 'Street dispatcher' },
  community_dispatcher: { zh: '社区调度员', en: 'Community dispatcher' },
  property_manager: { zh: '物业经理', en: 'Property manager' },
  grid_worker: { zh: '网格员', en: 'Grid worker' },
  property_staff: { zh: '物业维修员', en: 'Property staff' },
  department: { zh: '职能部门', en: 'Department' },
  resident: { zh: '居民', en: 'Resident' },
  notifier: { zh: '通知服务', en: 'Notification service' },
};

export const LEVEL_LABELS: Record<Level, Label> = {
  grid: { zh: '网格', en: 'Grid' },
  community: { zh: '社区', en: 'Community' },
  street: { zh: '街道', en: 'Street' },
};

/**
 * Categories of what people file: 一键报修 (tickets) and 事件上报 (work orders a patrol or a
 * resident raises). A filer may give another category; these are the ones clients offer.
 */
export const TICKET_CATEGORY_LABELS = {
  plumbing: { zh: '水电维修', en: 'Plumbing' },
  electrical: { zh: '电路故障', en: 'Electrical' },
  elevator: { zh: '电梯故障', en: 'Elevator' },
  door_access: { zh: '门禁故障', en: 'Door access' },
  sanitation: { zh: '环境卫生', en: 'Sanitation' },
  other: { zh: '其他报修', en: 'Other repair' },
} satisfies Record<string, Label>;

export const REPORT_CATEGORY_LABELS = {
  fire_exit_blocked: { zh: '消防通道堵塞', en: 'Blocked fire exit' },
  flying_wire_charging: { zh: '飞线充电', en: 'Unsafe e-bike charging cable' },
  ebike_indoors: { zh: '电动车进楼入户', en: 'E-bike taken indoors' },
  fallen_tree: { zh: '树木倒伏', en: 'Fallen tree' },
  manhole_damaged: { zh: '井盖缺失破损', en: 'Missing or damaged manhole cover' },
  high_altitude_throw: { zh: '高空抛物', en: 'Object thrown from height' },
  road_damage: { zh: '道路破损', en: 'Damaged road' },
  illegal_construction: { zh: '违章搭建', en: 'Illegal construction' },
  garbage_overflow: { zh: '垃圾满溢', en: 'Overflowing bins' },
  other: { zh: '其他安全隐患', en: 'Other safety hazard' },
} satisfies Record<string, Label>;

/**
 * The parameters of a rule as the device page shows them (GET /devices/:id/rules `params`): the
 * numbers a site may change, the work-item policy, and what the rule watches.
 */
export const RULE_PARAM_LABELS = {
  enabled: { zh: '启用', en: 'Enabled' },
  trigger: { zh: '触发阈值', en: 'Trigger' },
  clear: { zh: '恢复阈值', en: 'Clear' },
  holdS: { zh: '持续（秒）', en: 'Hold (s)' },
  verifyS: { zh: '核实时限（秒）', en: 'Verify within (s)' },
  heartbeats: { zh: '漏报心跳次数', en: 'Missed heartbeats' },
  minConfidence: { zh: '最低置信度', en: 'Minimum confidence' },
  count: { zh: '次数', en: 'Count' },
  windowS: { zh: '统计窗口（秒）', en: 'Window (s)' },
  clearAfterS: { zh: '自动恢复（秒）', en: 'Clears after (s)' },
  item: { zh: '生成', en: 'Opens' },
  severity: { zh: '紧急程度', en: 'Severity' },
  autoClose: { zh: '恢复后自动结单', en: 'Closes itself on recovery' },
  prop: { zh: '监测属性', en: 'Property' },
  direction: { zh: '方向', en: 'Direction' },
  event: { zh: '事件', en: 'Event' },
  when: { zh: '触发值', en: 'Fires when' },
} satisfies Record<string, Label>;

/** What a rule opens, and which way a threshold fires. */
export const ITEM_KIND_LABELS = {
  work_order: { zh: '网格工单', en: 'Work order' },
  ticket: { zh: '物业报修', en: 'Ticket' },
  none: { zh: '仅告警', en: 'Alarm only' },
} satisfies Record<string, Label>;
export const DIRECTION_LABELS = {
  above: { zh: '高于阈值', en: 'Above' },
  below: { zh: '低于阈值', en: 'Below' },
} satisfies Record<string, Label>;

/** A category's words: one of the known ones, else what the filer wrote. */
export function categoryLabel(kind: 'ticket' | 'work_order', category: string): Label {
  const known: Record<string, Label> = kind === 'ticket' ? TICKET_CATEGORY_LABELS : REPORT_CATEGORY_LABELS;
  return known[category] ?? { zh: category, en: category };
}

/**
 * A catalog label written `中文 english` (`烟雾浓度 smoke density`) split into its two languages;
 * a label in one language serves as both.
 */
export function splitLabel(label: string): Label {
  const m = /^([^\x00-\x7f][^a-zA-Z]*?)\s+([a-zA-Z].*)$/.exec(label.trim());
  return m ? { zh: m[1]!.trim(), en: m[2]!.trim() } : { zh: label, en: label };
}
