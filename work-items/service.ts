import type { Directory } from '../core/directory.ts';
import { DomainError } from '../core/errors.ts';
import type { EventBus } from '../core/event-bus.ts';
import type { Logger } from '../core/logger.ts';
import type { Db } from '../core/store/db.ts';
import type { User } from '../core/store/users.ts';
import { namesOf } from '../core/store/users.ts';
import type { Clock } from '../rules/clock.ts';
import type { EffectiveRule } from '../rules/params.ts';
import { actProblem, canSee } from './access.ts';
import { handlerFor } from './actions/index.ts';
import type { ActInput, WorkItemContext } from './context.ts';
import type { PlatformEvent } from './events.ts';
import { fromRulesEvent } from './intake.ts';
import { DEFAULT_SLA, SlaTimers, type Sla } from './sla.ts';
import { reportInDue, slaDue } from './sla-due.ts';
import { getItem, openItems, pendingReportIns, timeline, whistles, type TimelineEntry, type Whistle, type WorkItem } from './store.ts';
import { fileTicket, type BuildingPlacement, type TicketInput } from './tickets.ts';
import { allowedActions, permitted, type Action } from './transitions.ts';
import { ReportInTimers } from './whistles.ts';
import { PhotoStore, type Photo } from './photos.ts';
import { reportIncident, type ReportInput } from './reports.ts';
import { NOTES, REFUSALS } from './texts.ts';
import { recordNotice, type NoticeReport } from './notices.ts';
import { PLATFORM } from './context.ts';

export type { ActInput } from './context.ts';
export type { TicketInput } from './tickets.ts';
export type { ReportInput } from './reports.ts';

export interface WorkItemsOptions {
  db: Db;
  log: Logger;
  clock: Clock;
  bus: EventBus<PlatformEvent>;
  directory: Directory;
  /** The rule as it applies to a device, overrides and policy included (the rules engine knows). */
  ruleFor(deviceId: string, ruleId: string): EffectiveRule | undefined;
  /** A device type's name as people say it (烟感探测器), from the catalog. */
  typeName(type: string): string | undefined;
  sla?: Sla;
  /** Seconds a whistled department has to report in (报到). */
  reportInS?: number;
  /** Where uploaded photos are kept (DATA_DIR/photos). */
  photosDir: string;
  /**
   * Several nodes (core/cluster.ts): the SLA and report-in timers run on the lease holder only,
   * for every node's items. One node: here.
   */
  cluster?: { readonly leader: boolean; onLeadership(fn: (held: boolean) => void): void };
}

/** How often the lease holder picks up items opened or moved on other nodes. */
const TIMERS_REFRESH_MS = 2000;

/**
 * The work-item layer (DESIGN §4): grid work orders and property tickets through the six-step
 * closed loop. It listens to the rules' alarm events on the bus (intake.ts), takes people's
 * actions through the transition table and one handler per action (actions/), keeps SLA and
 * report-in timers (sla.ts, whistles.ts, sla-due.ts), and tells the bus what happened. Platform
 * steps (intake, timers) run one at a time, in order.
 */
export class WorkItems {
  private readonly ctx: WorkItemContext;
  readonly photos: PhotoStore;
  private chain: Promise<void> = Promise.resolve();
  private refresh?: NodeJS.Timeout;

  constructor(private readonly opts: WorkItemsOptions) {
    const { db, log, clock, bus, directory, ruleFor, typeName } = opts;
    this.photos = new PhotoStore(db, opts.photosDir);
    this.ctx = {
      db, log, clock, directory, ruleFor, typeName,
      emit: (e) => bus.emit(e),
      // Another node's timers may have moved the item on: slaDue and reportInDue read it afresh.
      sla: new SlaTimers(clock, opts.sla ?? DEFAULT_SLA, (id) => this.timersHere() && this.enqueue(() => slaDue(this.ctx, id))),
      reportIns: new ReportInTimers(clock, (opts.reportInS ?? 1800) * 1000, (id, d) => this.timersHere() && this.enqueue(() => reportInDue(this.ctx, id, d))),
      staffTurns: new Map(),
      isoNow: () => new Date(clock.now()).toISOString(),
    };
  }

  /** Re-arms the timers of what was open at the last stop, then takes the rules' events. */
  async start(): Promise<void> {
    await this.armFromStore();
    // In a cluster the holder of the lease arms every node's items, and keeps picking up new ones.
    this.opts.cluster?.onLeadership((held) => {
      clearInterval(this.refresh);
      if (!held) return;
      const again = () => void this.armFromStore().catch((err: Error) => this.opts.log.warn({ err }, 'could not read the open items for their timers; trying again'));
      again();
      this.refresh = setInterval(again, TIMERS_REFRESH_MS).unref();
    });
    this.opts.bus.on('work-items', 'alarm', (e) => this.enqueue(() => fromRulesEvent(this.ctx, e)));
    this.opts.bus.on('work-items', 'incident', (e) => this.enqueue(() => fromRulesEvent(this.ctx, e)));
  }

  /** Resolves once every event handed over so far has been acted on. */
  async idle(): Promise<void> {
    let c: Promise<void>;
    do {
      c = this.chain;
      await c;
    } while (c !== this.chain);
  }

  /** Arms the timers of every open item and every pending report-in in the store. */
  private async armFromStore(): Promise<void> {
    for (const item of await openItems(this.opts.db)) this.ctx.sla.arm(item);
    for (const w of await pendingReportIns(this.opts.db)) this.ctx.reportIns.arm(w.itemId, w.department, Date.parse(w.reportDue));
  }

  /** Whether the timers' moments are acted on here: always on one node, on the lease holder in a cluster. */
  private timersHere(): boolean {
    return !this.opts.cluster || this.opts.cluster.leader;
  }

  close(): void {
    clearInterval(this.refresh);
    this.opts.bus.removeListeners('work-items');
    this.ctx.sla.close();
    this.ctx.reportIns.close();
  }

  /** One item as this user may see it: its timeline, whistles and the actions they may take now. */
  async get(id: string, user: User): Promise<WorkItem & { timeline: TimelineEntry[]; whistles: Whistle[]; allowedActions: Action[]; people: Record<string, string> }> {
    const { item, whistles: w } = await this.visible(id, user);
    const mine = allowedActions(item.kind, item.status, user.role).filter((a) => !actProblem(user, item, a, w));
    const entries = await timeline(this.opts.db, id);
    // The names of the people it mentions (who acted, who it was handed to), nothing else about them.
    const ids = [item.assigneeId, item.reporterId, ...entries.flatMap((e) => [e.actorId, e.data.assigneeId])].filter((x): x is string => typeof x === 'string');
    const people = Object.fromEntries(await namesOf(this.opts.db, ids));
    return { ...item, timeline: entries, whistles: w, allowedActions: mine, people };
  }

  /** Takes an action for a user: checked against their reach and the table, then carried out by its handler. */
  async act(id: string, action: Action, user: User, input: ActInput): Promise<WorkItem> {
    const { item, whistles: w } = await this.visible(id, user);
    const problem = actProblem(user, item, action, w);
    if (problem) throw new DomainError('WI_FORBIDDEN', REFUSALS.forbidden(action, id, problem));
    if (!permitted(action, item.kind, item.status, user.role)) {
      throw new DomainError('WI_NOT_ALLOWED', REFUSALS.notAllowed(action, item.kind, item.status, user.role), {
        status: item.status,
        allowed: allowedActions(item.kind, item.status, user.role).filter((a) => !actProblem(user, item, a, w)),
      });
    }
    await this.refuseForeignPhotos(user, input.photos);
    return handlerFor(action)(this.ctx, { action, item, actor: user, input, whistles: w });
  }

  /** 一键报修 (see tickets.ts). */
  async fileTicket(user: User, input: TicketInput, placement: BuildingPlacement): Promise<WorkItem> {
    await this.refuseForeignPhotos(user, input.photos);
    return fileTicket(this.ctx, user, input, placement);
  }

  /** 事件上报 (see reports.ts). */
  async report(user: User, input: ReportInput, placement: BuildingPlacement): Promise<WorkItem> {
    await this.refuseForeignPhotos(user, input.photos);
    return reportIncident(this.ctx, user, input, placement);
  }

  /** What the notification flows delivered, on each item's timeline (notices.ts); only the notifier and admins report. */
  async recordNotice(user: User, report: NoticeReport): Promise<{ recorded: string[]; missing: string[] }> {
    if (user.role !== 'notifier' && user.role !== 'admin') throw new DomainError('WI_FORBIDDEN', REFUSALS.notNotifier());
    return recordNotice(this.opts.db, user, report, this.ctx.isoNow());
  }

  /**
   * 紧急事件一键调度 asked over MQTT (`platform/commands/urgent`) by a service account the broker let
   * publish there: the platform takes the action, and the timeline names the account.
   */
  async urgentFor(serviceAccount: string, itemId: string, note?: string): Promise<WorkItem> {
    const item = await getItem(this.opts.db, itemId);
    if (!item) throw new DomainError('WI_NOT_FOUND', REFUSALS.notFound(itemId));
    const actor = { ...PLATFORM, id: serviceAccount, name: serviceAccount };
    return handlerFor('urgent')(this.ctx, { action: 'urgent', item, actor, input: { note: note ?? NOTES.urgent(`MQTT，服务账号 ${serviceAccount}`) }, whistles: await whistles(this.opts.db, itemId) });
  }

  /** A photo, if this user uploaded it or may see an item that holds it; otherwise undefined, as if there were none. */
  async photo(id: string, user: User): Promise<Photo | undefined> {
    const photo = await this.photos.get(id);
    // The notifier sees every item to tell people of it, not what is in their photos.
    if (!photo || user.role === 'notifier') return undefined;
    if (photo.uploadedBy === user.id || user.role === 'admin') return photo;
    for (const itemId of await this.photos.holders(id)) {
      const [item, w] = await Promise.all([getItem(this.opts.db, itemId), whistles(this.opts.db, itemId)]);
      if (item && canSee(user, item, w)) return photo;
    }
    return undefined;
  }

  /** Only the person who uploaded a photo attaches it (an id seen elsewhere is not a way in). */
  private async refuseForeignPhotos(user: User, ids: readonly string[] | undefined): Promise<void> {
    const foreign = await this.photos.notAttachable(ids ?? [], user.id);
    if (foreign.length) throw new DomainError('WI_BAD_INPUT', REFUSALS.foreignPhotos(foreign), { field: 'photos' });
  }

  /** The item, if this user may see it; otherwise WI_NOT_FOUND, with no hint that it exists. */
  private async visible(id: string, user: User): Promise<{ item: WorkItem; whistles: Whistle[] }> {
    const [item, w] = await Promise.all([getItem(this.opts.db, id), whistles(this.opts.db, id)]);
    if (!item || !canSee(user, item, w)) throw new DomainError('WI_NOT_FOUND', REFUSALS.notFound(id));
    return { item, whistles: w };
  }

  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: Error) => {
      // A platform step that lost a race with a person: that person's move re-armed what matters.
      if (err instanceof DomainError && err.code === 'WI_STALE') this.opts.log.warn({ err: err.message }, 'work item step skipped: the item changed meanwhile');
      else this.opts.log.error({ err }, 'work item step failed');
    });
  }
}
