import type { Action, Department, Level, Role, Severity, Status } from './domain.ts';

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
  property_manager: { zh: '物业经理', en: 'Property manager' },
  grid_worker: { zh: '网格员', en: 'Grid worker' },
  property_staff: { zh: '物业维修员', en: 'Property staff' },
  department: { zh: '职能部门', en: 'Department' },
  resident: { zh: '居民', en: 'Resident' },
};

export const LEVEL_LABELS: Record<Level, Label> = {
  grid: { zh: '网格', en: 'Grid' },
  community: { zh: '社区', en: 'Community' },
  street: { zh: '街道', en: 'Street' },
};

/**
 * A catalog label written `中文 english` (`烟雾浓度 smoke density`) split into its two languages;
 * a label in one language serves as both.
 */
export function splitLabel(label: string): Label {
  const m = /^([^\x00-\x7f][^a-zA-Z]*?)\s+([a-zA-Z].*)$/.exec(label.trim());
  return m ? { zh: m[1]!.trim(), en: m[2]!.trim() } : { zh: label, en: label };
}
