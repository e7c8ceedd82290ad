import type { Placement } from '../core/directory.ts';
import { DEPARTMENT_LABELS, LEVEL_LABELS } from '../core/vocabulary.ts';
import type { WorkItemContext } from './context.ts';

/**
 * What people read on an item, Chinese first (DESIGN §4): titles name the place and the device,
 * not ids (`梨园社区1号楼 烟感探测器-1：烟雾浓度超标`), and the platform's timeline notes say what
 * happened in the words a grid worker uses.
 */

/** `梨园社区1号楼` — the community and the building, as people say them. */
export function placeName(p: Placement | undefined): string {
  if (!p?.names) return p?.buildingId ?? '';
  return `${p.names.community ?? ''}${p.names.building}`;
}

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

const dept = (d: string) => DEPARTMENT_LABELS[d as keyof typeof DEPARTMENT_LABELS]?.zh ?? d;
const level = (l: string) => LEVEL_LABELS[l as keyof typeof LEVEL_LABELS]?.zh ?? l;

/** The platform's timeline notes. */
export const NOTES = {
  raisedAgain: (condition: string) => `再次报警：${condition}`,
  relapse: (condition: string) => `24 小时内复发：${condition}，工单重新打开`,
  mergedInto: (keeper: string) => `同一事件，已并入工单 ${keeper}`,
  joins: (device: string) => `${device} 并入本事件`,
  storm: (place: string, devices: number) => `${place} ${devices} 台设备同时报警，合并为一个事件`,
  autoClosed: (condition: string, seconds: number) => `无感销：${condition}已恢复正常并持续 ${seconds} 秒，平台自动结单`,
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
  poorRating: (stars: number) => `评价 ${stars} 星，退回物业经理`,
  unsatisfiedVisit: () => '回访不满意，退回物业经理',
};
