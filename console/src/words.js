// Words of the console itself, Chinese first; everything of the domain (statuses, actions,
// categories, roles, device types) comes from GET /api/v1/vocabulary.
import { reactive } from 'vue';

const UI = {
  zh: {
    title: '智慧物业安全感知平台', signIn: '登录', token: '访问令牌', tokenHint: '请输入管理员发给您的令牌', signOut: '退出', language: 'English',
    required: '必填', live: '实时更新', none: '暂无', loading: '加载中…', back: '返回', save: '提交', cancel: '取消', all: '全部',
    // Navigation
    navOverview: '一屏统揽', navBoard: '工单看板', navTasks: '我的任务', navReport: '事件上报', navTickets: '报修工单', navResident: '一键报修',
    // Resident
    file: '一键报修', mine: '我的报修', category: '类别', building: '楼栋', unit: '单元', room: '房间号', description: '问题描述',
    descriptionHint: '请描述问题，例如：厨房水管漏水', photo: '照片', addPhoto: '拍照或选择照片', submit: '提交报修', submitted: '已提交，进度会在这里更新',
    progress: '办理进度', overall: '总体', speed: '速度', service: '服务', comment: '留言', sendRating: '提交评价', rated: '已评价',
    // Overview
    devices: '设备', online: '在线', onlineRate: '在线率', activeAlarms: '当前告警', criticalItems: '紧急工单', openItems: '未办结', byLevel: '按层级', bySeverity: '按紧急程度',
    today: '今日', slaBreaches: '超时', escalations: '升级', created: '新增', closed: '办结', map: '社区与网格', alarmsShort: '告警', itemsShort: '工单',
    noAlarms: '当前没有告警', age: '持续', updatedAt: '更新于', calm: '正常',
    // Board
    workOrders: '网格工单', tickets: '物业报修', status: '状态', severity: '紧急程度', grid: '网格', level: '层级', filters: '筛选', total: '共 {n} 件',
    deadline: '时限', overdue: '已超时', remaining: '剩余', assignee: '处理人', unassigned: '未分配', createdAt: '创建时间',
    // Item
    timeline: '办理过程', whistles: '吹哨部门', reportDue: '报到时限', reportedAt: '已报到', notReported: '未报到', finished: '已完成', late: '迟到',
    alarm: '告警', readings: '读数', actions: '可执行操作', noActions: '您当前没有可执行的操作', note: '说明', noteHint: '处置情况、原因等',
    chooseAssignee: '派给', chooseDepartments: '吹哨部门', onBehalfOf: '代部门', done: '已完成：{a}', place: '地点', device: '设备', evidence: '证据',
    platform: '平台', admin: '管理员', escalatedTo: '升级到', count: '次数', photos: '照片', rating: '评价', item: '工单',
    // Tasks
    myTasks: '我的任务', noTasks: '目前没有待办任务', accept: '受理', start: '开始处置', resolve: '处置完成',
    // Report
    reportTitle: '事件上报', placeHint: '例如：3单元楼道、北门外', reported: '已上报',
    // Device
    latest: '最新读数', history: '历史曲线', presence: '上下线记录', alarmsRaised: '告警记录', rulesInForce: '生效规则', source: '来源', default: '默认', lastSeen: '最后上报', offline: '离线',
    wentOnline: '上线', wentOffline: '离线', noHistory: '暂无记录', threshold: '参数',
    notForRole: '此角色没有控制台页面，请使用 API（/docs）。', satisfied: '满意', fair: '基本满意', unsatisfied: '不满意', yes: '是', no: '否',
    alarm_pending: '待确认', alarm_active: '告警中', alarm_clearing: '恢复中', alarm_cleared: '已恢复', sourceHint: '未注明来源的参数为设备类型的默认值；注明来源的由该处设定。',
  },
  en: {
    title: 'Smart-property safety', signIn: 'Sign in', token: 'Access token', tokenHint: 'The token your administrator gave you', signOut: 'Sign out', language: '中文',
    required: 'required', live: 'Live', none: 'None', loading: 'Loading…', back: 'Back', save: 'Submit', cancel: 'Cancel', all: 'All',
    navOverview: 'Overview', navBoard: 'Board', navTasks: 'My tasks', navReport: 'Report', navTickets: 'Tickets', navResident: 'Repairs',
    file: 'Report a repair', mine: 'My requests', category: 'Category', building: 'Building', unit: 'Unit', room: 'Room', description: 'Description',
    descriptionHint: 'What is wrong, e.g. the kitchen pipe leaks', photo: 'Photo', addPhoto: 'Take or choose a photo', submit: 'Submit', submitted: 'Submitted: progress shows here',
    progress: 'Progress', overall: 'Overall', speed: 'Speed', service: 'Service', comment: 'Comment', sendRating: 'Send rating', rated: 'Rated',
    devices: 'Devices', online: 'Online', onlineRate: 'Online rate', activeAlarms: 'Active alarms', criticalItems: 'Critical work orders', openItems: 'Open items', byLevel: 'By level', bySeverity: 'By severity',
    today: 'Today', slaBreaches: 'SLA breaches', escalations: 'Escalations', created: 'New', closed: 'Closed', map: 'Communities and grids', alarmsShort: 'alarms', itemsShort: 'items',
    noAlarms: 'No active alarms', age: 'for', updatedAt: 'Updated', calm: 'Normal',
    workOrders: 'Work orders', tickets: 'Tickets', status: 'Status', severity: 'Severity', grid: 'Grid', level: 'Level', filters: 'Filters', total: '{n} in all',
    deadline: 'Deadline', overdue: 'Overdue', remaining: 'left', assignee: 'Assignee', unassigned: 'Unassigned', createdAt: 'Created',
    timeline: 'Timeline', whistles: 'Whistled departments', reportDue: 'Report in by', reportedAt: 'Reported in', notReported: 'Not reported in', finished: 'Finished', late: 'late',
    alarm: 'Alarm', readings: 'Readings', actions: 'Actions', noActions: 'You have no action to take now', note: 'Note', noteHint: 'What was done, or why',
    chooseAssignee: 'Assign to', chooseDepartments: 'Departments', onBehalfOf: 'On behalf of', done: 'Done: {a}', place: 'Place', device: 'Device', evidence: 'Evidence',
    platform: 'Platform', admin: 'Administrator', escalatedTo: 'Escalated to', count: 'Count', photos: 'Photos', rating: 'Rating', item: 'Item',
    myTasks: 'My tasks', noTasks: 'Nothing to do right now', accept: 'Accept', start: 'Start', resolve: 'Resolve',
    reportTitle: 'Report an incident', placeHint: 'e.g. stairwell of unit 3, outside the north gate', reported: 'Reported',
    latest: 'Latest readings', history: 'History', presence: 'Online / offline', alarmsRaised: 'Alarms', rulesInForce: 'Rules in force', source: 'Source', default: 'default', lastSeen: 'Last seen', offline: 'Offline',
    wentOnline: 'online', wentOffline: 'offline', noHistory: 'Nothing yet', threshold: 'Parameters',
    notForRole: 'This role has no console pages; the API is at /docs.', satisfied: 'Satisfied', fair: 'Fair', unsatisfied: 'Unsatisfied', yes: 'yes', no: 'no',
    alarm_pending: 'pending', alarm_active: 'active', alarm_clearing: 'clearing', alarm_cleared: 'cleared', sourceHint: 'Parameters without a source are the device type\'s defaults; the others were set where named.',
  },
};

// Timeline entries that are steps of no action: the platform's own.
const ENTRY = {
  collect: { zh: '信息收集', en: 'Collected' },
  count: { zh: '再次触发', en: 'Raised again' },
  sla_missed: { zh: '超时未办', en: 'Deadline missed' },
  remind: { zh: '督办提醒', en: 'Reminder' },
};

export const words = reactive({ lang: 'zh', vocabulary: null });
export const t = (key, vars = {}) => (UI[words.lang][key] ?? key).replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? '');
/** A label of the vocabulary in the chosen language (`statuses`, `actions`, …). */
export const label = (table, key) => {
  const entry = words.vocabulary?.[table]?.[key];
  return entry ? entry[words.lang] ?? entry.zh : key;
};
/** A timeline entry's word: its action's, a notice's, or the platform's own step. */
export const entryLabel = (action) => {
  const e = words.vocabulary?.actions?.[action] ?? words.vocabulary?.notices?.[action] ?? ENTRY[action];
  return e ? e[words.lang] ?? e.zh : action;
};
/** A device type's property, by the vocabulary. */
export const propLabel = (type, prop) => {
  const e = words.vocabulary?.properties?.[type]?.[prop] ?? words.vocabulary?.events?.[type]?.[prop];
  return e ? e[words.lang] ?? e.zh : prop;
};

/** A time as China reads it (the platform's sites are in China whatever the browser's zone). */
export const when = (iso) =>
  iso ? new Intl.DateTimeFormat(words.lang === 'en' ? 'en-GB' : 'zh-CN', { timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }).format(new Date(iso)) : '';

/** "3 分 20 秒" / "3 min 20 s": how long, from milliseconds. */
export function span(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  const [d, h, m, sec] = [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60];
  const zh = words.lang !== 'en';
  const parts = [d && (zh ? `${d} 天` : `${d} d`), h && (zh ? `${h} 小时` : `${h} h`), m && (zh ? `${m} 分` : `${m} min`), !d && !h && (zh ? `${sec} 秒` : `${sec} s`)].filter(Boolean);
  return parts.slice(0, 2).join(' ');
}
