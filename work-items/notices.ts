import type { Channel } from '../core/domain.ts';
import { listUsers } from '../core/store/users.ts';
import { CHANNEL_LABELS, ROLE_LABELS } from '../core/vocabulary.ts';
import type { Actor } from './context.ts';
import type { Queryable } from '../core/store/db.ts';
import { appendEvent, existingItemIds } from './store.ts';

/** What the notification flows report after delivering (or failing to deliver) about some items. */
export interface NoticeReport {
  itemIds: string[];
  /** Each person told (or not), with the channels that reached them and those that failed. */
  recipients: { userId: string; delivered: Channel[]; failed: Channel[] }[];
  /** Why they were told: an urgent dispatch (一键调度), a digest, a single notice. */
  reason: 'urgent' | 'digest' | 'notice';
  attempts?: number;
  error?: string;
}

/**
 * Writes what the flows report on each item's timeline (not a step of the loop: the status stays,
 * nothing is emitted, so a notice never causes another). `notified` when someone was reached,
 * `notify_failed` when nobody was; the note names people and channels in Chinese.
 */
export async function recordNotice(db: Queryable, actor: Actor, report: NoticeReport, at: string): Promise<{ recorded: string[]; missing: string[] }> {
  const note = await noticeNote(db, report);
  const reached = report.recipients.some((r) => r.delivered.length > 0);
  const action = reached ? 'notified' : 'notify_failed';
  const recorded: string[] = [];
  const missing: string[] = [];
  // A digest reports hundreds of items at once: which exist is one query, not one per item.
  const ids = [...new Set(report.itemIds)];
  const existing = await existingItemIds(db, ids);
  for (const id of ids) {
    if (!existing.has(id)) {
      missing.push(id);
      continue;
    }
    await appendEvent(db, id, {
      at, actorId: actor.id, actorRole: actor.role, action, fromStatus: null, toStatus: null, note, photos: [],
      data: { reason: report.reason, recipients: report.recipients, ...(report.attempts ? { attempts: report.attempts } : {}), ...(report.error ? { error: report.error } : {}) },
    });
    recorded.push(id);
  }
  return { recorded, missing };
}

/** `已通知：网格员 张三（企业微信、短信）；未送达：社区调度员 李四（钉钉，重试 3 次后仍失败：连接被拒绝）` */
async function noticeNote(db: Queryable, r: NoticeReport): Promise<string> {
  // Everyone the note names, in one query.
  const people = new Map((await listUsers(db, { ids: r.recipients.map((x) => x.userId) })).map((u) => [u.id, u]));
  const who = (id: string) => {
    const u = people.get(id);
    return u ? `${ROLE_LABELS[u.role].zh} ${u.name}` : id;
  };
  const channels = (cs: Channel[]) => cs.map((c) => CHANNEL_LABELS[c].zh).join('、');
  const lead = r.reason === 'urgent' ? '紧急调度' : r.reason === 'digest' ? '汇总通知' : '通知';
  if (!r.recipients.length) return `${lead}未能送达任何人：未配置通知渠道，或责任人没有联系方式`;
  const delivered: string[] = [];
  const failed: string[] = [];
  for (const x of r.recipients) {
    if (x.delivered.length) delivered.push(`${who(x.userId)}（${channels(x.delivered)}）`);
    if (x.failed.length) failed.push(`${who(x.userId)}（${channels(x.failed)}）`);
    if (!x.delivered.length && !x.failed.length) failed.push(`${who(x.userId)}（无可用渠道）`);
  }
  const why = r.error ? `${r.attempts ? `重试 ${r.attempts - 1} 次后仍失败` : '失败'}：${r.error}` : '';
  const notReached = failed.length ? `未送达：${failed.join('；')}${why ? `，${why}` : ''}` : '';
  return delivered.length ? [`${lead}已送达：${delivered.join('；')}`, notReached].filter(Boolean).join('；') : `${lead}${notReached}`;
}
