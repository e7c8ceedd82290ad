import type { Placement } from '../core/directory.ts';
import { categoryLabel, ACTION_LABELS, DEPARTMENT_LABELS, LEVEL_LABELS, ROLE_LABELS, STATUS_LABELS, type Label } from '../core/vocabulary.ts';
import type { WorkItemContext } from './context.ts';

/**
 * What people read on an item, Chinese first (DESIGN §4): titles name the place and the device,
 * not ids (`梨园社区1号楼 烟感探测器-1：烟雾浓度超标`), and the platform's timeline notes say what
 * happened in the words a grid worker uses.
 */

/** `梨园社区1号楼` — the community and the building, as people say them. */
export function placeName(p: Placement | undefined): string {
  if (!p?.names) return p?.buildingId ?? '';
  return withCommunity(p.names.community, p.names.building);
}

/** The building's name after its community's, unless it already says it (`梨园社区1号楼`). */
const withCommunity = (community: string | null, building: string) => (community && !building.startsWith(community) ? `${community}${building}` : building);

/** `烟感探测器-1` — the device's own name, else its type's name and its number in the building. */
export function deviceName(ctx: WorkItemContext, p: Placement | undefined, deviceId: string): string {
  if (p?.names?.device) return p.names.device;
  const type = p && ctx.typeName(p.type);
  const n = /-(\d+)$/.exec(deviceId)?.[1];
  return type ? (n ? `${type}-${n}` : type) : deviceId;
}

export function alarmTitle(ctx: WorkItemContext, deviceId: string, condition: string): string {
  const p = ctx.directory.get(deviceId);
  return `${placeName(p)} ${deviceName(ctx, p, deviceId)}：${condition}`.trim();
}

/**
 * A filed item's title: the place, then what it is and the first words of the description
 * (`梨园社区1号楼 3单元 消防通道堵塞：楼道堆放杂物`).
 */
export function filedTitle(kind: 'ticket' | 'work_order', names: { community: string | null; building: string }, where: string | undefined, category: string, description: string): string {
  const place = `${withCommunity(names.community, names.building)}${where ? ` ${where}` : ''}`;
  const words = description.length > 40 ? `${description.slice(0, 40)}…` : description;
  return `${place} ${categoryLabel(kind, category).zh}：${words}`;
}

/** `14:05` in China Standard Time (the street's clock, whatever the server's zone). */
const clockTime = (iso: string) => new Date(iso).toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hour12: false });

const dept = (d: string) => DEPARTMENT_LABELS[d as keyof typeof DEPARTMENT_LABELS]?.zh ?? d;
const level = (l: string) => LEVEL_LABELS[l as keyof typeof LEVEL_LABELS]?.zh ?? l;

/** The platform's timeline notes. */
export const NOTES = {
  urgent: (via?: string) => `紧急事件一键调度：通知全部责任人${via ? `（${via}）` : ''}`,
  raisedAgain: (condition: string) => `再次报警：${condition}`,
  relapse: (condition: string) => `24 小时内复发：${condition}，工单重新打开`,
  mergedInto: (keeper: string) => `同一事件，已并入工单 ${keeper}`,
  joins: (device: string) => `${device} 并入本事件`,
  joinsDuplicate: (id: string) => `重复工单 ${id} 并入本工单`,
  storm: (place: string, devices: number) => `${place} ${devices} 台设备同时报警，合并为一个事件`,
  autoClosed: (condition: string, seconds: number) => `无感销：${condition}已恢复正常并持续 ${seconds} 秒，平台自动结单`,
  reminder: (n: number, acceptDue: string | null) => `督办：第 ${n} 次提醒，${acceptDue ? `请于 ${clockTime(acceptDue)} 前受理` : '请尽快受理'}`,
  notAcceptedEscalate: (to: string) => `超时未受理，升级至${level(to)}`,
  notResolvedEscalate: (to: string) => `超时未办结，升级至${level(to)}`,
  notAccepted: () => '超时未受理（已在最高层级）',
  notResolved: () => '超时未办结（已在最高层级）',
  lateReportIn: (d: string) => `${dept(d)}未按时报到`,
  lateReportInEscalate: (d: string, to: string) => `${dept(d)}未按时报到，升级至${level(to)}`,
  whistled: (ds: string[]) => `吹哨：${ds.map(dept).join('、')}`,
  ruleWhistles: (ds: string[]) => `按规则吹哨：${ds.map(dept).join('、')}`,
  reopened: () => '重新打开',
  escalatedByHand: (to: string) => `人工升级至${level(to)}`,
  poorRating: (stars: number, kind: string) => (kind === 'ticket' ? `评价 ${stars} 星，退回物业经理` : `评价 ${stars} 星，工单重新打开`),
  unsatisfiedVisit: () => '回访不满意，退回物业经理',
};

const act = (a: string) => ACTION_LABELS[a as keyof typeof ACTION_LABELS]?.zh ?? a;
const status = (s: string | undefined) => (s ? (STATUS_LABELS[s as keyof typeof STATUS_LABELS]?.zh ?? s) : '未知');
const role = (r: string) => (r === 'platform' ? '平台' : (ROLE_LABELS[r as keyof typeof ROLE_LABELS]?.zh ?? r));
const kind = (k: string) => (k === 'ticket' ? '报修单' : '工单');

/** What a refused action tells the person, in both languages (the API answers in theirs). */
export const REFUSALS = {
  notFound: (id: string): Label => ({ zh: `工单 ${id} 不存在`, en: `work item ${id} does not exist` }),
  notNotifier: (): Label => ({ zh: '只有通知服务和平台管理员可以记录通知结果', en: 'only the notifier and admins record notifications' }),
  notAllowed: (action: string, k: string, s: string, r: string): Label => ({
    zh: `${kind(k)}处于“${status(s)}”状态，${role(r)}不能执行“${act(action)}”`,
    en: `${action} is not allowed on a ${k} in status ${s} for ${r}`,
  }),
  forbidden: (action: string, id: string, why: Label): Label => ({ zh: `不能对 ${id} 执行“${act(action)}”：${why.zh}`, en: `${action} on ${id}: ${why.en}` }),
  stale: (action: string, id: string, now: string | undefined): Label => ({
    zh: `执行“${act(action)}”时 ${id} 已被他人更新（当前状态：${status(now)}），请刷新后重试`,
    en: `${action} on ${id}: the item changed meanwhile (now ${now}); reload and retry`,
  }),
  foreignPhotos: (ids: string[]): Label => ({ zh: `photos：${ids.join('、')} 不存在或不是您上传的照片`, en: `photos: ${ids.join(', ')} do not exist or are not your uploads` }),
  required: (field: string): Label => ({ zh: `${field}：必填`, en: `${field}: required` }),
  cannotTake: (assigneeId: string, k: string): Label => ({ zh: `assigneeId：${assigneeId} 不能承办此${kind(k)}`, en: `assigneeId: ${assigneeId} cannot take this ${k}` }),
  noDepartments: (): Label => ({ zh: 'departments：至少指定一个部门', en: 'departments: give at least one' }),
  nameTheDepartment: (action: string): Label => ({ zh: `department：代部门${act(action)}须指明部门（代报到）`, en: `department: ${action} on behalf of a department names it (代报到)` }),
  notWhistled: (d: string, id: string): Label => ({ zh: `department：${dept(d)}未被吹哨到 ${id}`, en: `department: ${d} was not whistled to ${id}` }),
  notReportedIn: (d: string, id: string): Label => ({ zh: `${dept(d)}尚未报到，不能处置完成 ${id}`, en: `resolve on ${id}: ${d} has not reported in` }),
  departmentsWorking: (action: string, id: string, ds: string[]): Label => ({
    zh: `被吹哨部门尚未办结：${ds.map(dept).join('、')}，不能${act(action)} ${id}；可用 "department" 代其报到和办结`,
    en: `${action} on ${id}: whistled departments still working: ${ds.join(', ')}; record their part with "department"`,
  }),
  alreadyRated: (id: string): Label => ({ zh: `${id} 已评价过`, en: `rate on ${id}: already rated` }),
  cannotMergeInto: (id: string): Label => ({ zh: `intoId：不能并入 ${id}（须为同类、未结、可见的另一工单）`, en: `intoId: cannot merge into ${id} (another open item of the same kind that you can see)` }),
  dispatchersRecordParts: (): Label => ({ zh: 'department：调度员只能代职能部门记录办结（代报到）', en: 'department: a dispatcher resolves only a department\'s part, on its behalf (代报到)' }),
  topLevel: (id: string): Label => ({ zh: `${id} 已升级至街道，无法再升级`, en: `escalate on ${id}: already at the street, the top of the ladder` }),
};

/** Why a person may not act on an item they can see (work-items/access.ts). */
export const NOT_YOURS = {
  notVisible: { zh: '无权查看', en: 'not yours to see' },
  notAssigned: { zh: '只有被指派的维修员可以处理此报修单', en: 'only the assigned staff member may act on this ticket' },
  managersReadOnly: { zh: '物业经理处理报修单，网格工单对其只读', en: 'property managers act on tickets; grid work orders are read-only for them' },
  gridWorkOrders: { zh: '网格员处理网格工单', en: 'grid workers act on grid work orders' },
  dispatchersWorkOrders: { zh: '调度员处理网格工单，报修单对其只读', en: 'dispatchers act on grid work orders; tickets are read-only for them' },
  onlyReporterRates: { zh: '只有上报人可以评价', en: 'only the person who raised it rates it' },
} satisfies Record<string, Label>;
