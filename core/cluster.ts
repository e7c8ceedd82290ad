import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from './logger.ts';
import type { Db } from './store/db.ts';

/**
 * This node's name: NODE_ID, else the one kept in DATA_DIR (made once), so a node restarted on
 * its volume is the same node to the store and to the devices it owned.
 */
export function nodeIdentity(dataDir: string, configured?: string): string {
  if (configured) return configured;
  const file = path.join(dataDir, 'node-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const id = `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  writeFileSync(file, id + '\n', { mode: 0o600 });
  return id;
}

export interface ClusterOptions {
  db: Db;
  log: Logger;
  nodeId: string;
  /** How often the heartbeat and the lease are renewed. */
  beatMs?: number;
  /** A node not heard of for this long is gone; a lease not renewed for this long is free. */
  ttlMs?: number;
}

/** The lease whose holder runs the work items' timers (SLA, report-in) for the whole cluster. */
export const TIMERS_LEASE = 'work-item-timers';

/**
 * Several nodes on one PostgreSQL: a heartbeat per node (cluster_nodes) and one lease (leases),
 * both on the database's clock, so no two nodes need to agree on the time. The lease holder runs
 * what must happen once for the cluster (the work items' timers) and takes over the rule deadlines
 * of devices whose node is gone; a device's own node keeps the rest. Nothing here is a protocol of
 * our own: a row, a deadline and `INSERT … ON CONFLICT … WHERE`.
 */
export class Cluster {
  readonly nodeId: string;
  private held = false;
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private readonly listeners: ((held: boolean) => void)[] = [];
  private readonly beatMs: number;
  readonly ttlMs: number;

  constructor(private readonly opts: ClusterOptions) {
    this.nodeId = opts.nodeId;
    this.beatMs = opts.beatMs ?? 2000;
    this.ttlMs = opts.ttlMs ?? 10_000;
  }

  /** Whether this node holds the timers' lease right now. */
  get leader(): boolean {
    return this.held;
  }

  /** Called with true when this node takes the lease (at once if it holds it), false when it loses it. */
  onLeadership(fn: (held: boolean) => void): void {
    this.listeners.push(fn);
    if (this.held) fn(true);
  }

  async start(): Promise<void> {
    await this.opts.db.query(
      `INSERT INTO cluster_nodes (node_id, started_at, seen_at) VALUES ($1, now(), now())
       ON CONFLICT (node_id) DO UPDATE SET started_at = now(), seen_at = now()`,
      [this.nodeId],
    );
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.beatMs).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    // Handed over at once rather than at the deadline: a rolling restart leaves no gap in the timers.
    if (this.held) await this.opts.db.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [TIMERS_LEASE, this.nodeId]).catch(() => undefined);
    this.setHeld(false);
  }

  /**
   * Whether a device's rule deadlines are this node's while it is connected to none here: yes if
   * it was last connected here, no if to another node that is alive, and the lease holder's if its
   * node is gone (or it never connected).
   */
  async ownsAway(deviceId: string): Promise<boolean> {
    const { rows } = await this.opts.db.query<{ node_id: string | null; alive: boolean | null }>(
      `SELECT d.node_id, n.seen_at > now() - $2 * interval '1 millisecond' AS alive
       FROM devices d LEFT JOIN cluster_nodes n ON n.node_id = d.node_id WHERE d.id = $1`,
      [deviceId, this.ttlMs],
    );
    const r = rows[0];
    if (!r) return false;
    if (r.node_id === this.nodeId) return true;
    return r.node_id !== null && r.alive ? false : this.held;
  }

  private beat(): Promise<void> {
    this.beating = (async () => {
      try {
        await this.opts.db.query('UPDATE cluster_nodes SET seen_at = now() WHERE node_id = $1', [this.nodeId]);
        const { rows } = await this.opts.db.query<{ holder: string }>(
          `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
           ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
           WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < now()
           RETURNING holder`,
          [TIMERS_LEASE, this.nodeId, this.ttlMs],
        );
        this.setHeld(rows.length > 0);
        if (this.held) await this.offlineOfGoneNodes();
      } catch (err) {
        // Unable to renew: another node takes over when the lease runs out; this one stops first.
        this.opts.log.warn({ err, nodeId: this.nodeId }, 'cluster heartbeat failed');
        this.setHeld(false);
      }
    })();
    return this.beating;
  }

  /**
   * The devices of a node that stopped beating are connected nowhere (they reconnect elsewhere, and
   * that node marks them online): the lease holder says so in the store, as a node does for its own
   * at start.
   */
  private async offlineOfGoneNodes(): Promise<void> {
    await this.opts.db.query(
      `WITH gone AS (UPDATE devices d SET online = false FROM cluster_nodes n
         WHERE d.online AND n.node_id = d.node_id AND n.seen_at < now() - $1 * interval '1 millisecond' RETURNING d.id)
       INSERT INTO device_presence (device_id, at, online) SELECT id, now(), false FROM gone`,
      [this.ttlMs],
    );
  }

  private setHeld(held: boolean): void {
    if (held === this.held) return;
    this.held = held;
    this.opts.log.info({ nodeId: this.nodeId, lease: TIMERS_LEASE }, held ? 'this node runs the cluster timers' : 'this node no longer runs the cluster timers');
    for (const fn of this.listeners) fn(held);
  }
}
