import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Aedes, Client, Subscription } from 'aedes';
import type { Extension } from '../core/event-bus.ts';
import { ROOT } from '../core/paths.ts';
import type { Logger } from '../core/logger.ts';

export const FLOWS_DIR = path.join(ROOT, 'flows');
const RED_JS = createRequire(import.meta.url).resolve('node-red/red.js');
/** What the flows subscribe to (flows.json, node `events`): seeing it on the broker means they listen. */
const EVENTS_FILTER = 'platform/workitems/#';

/** The editor's socket, in Node-RED's private folder (the platform passes /flows through to it). */
export const editorSocket = (userDir: string) => path.join(userDir, 'editor.sock');

export interface FlowsStatus {
  state: 'starting' | 'running' | 'restarting' | 'stopped';
  /** The flows hold their subscription to work-item events on the broker. */
  subscribed: boolean;
  restarts: number;
  pid: number | null;
  /** The channels switched on (their variable set). */
  channels: { wecom: boolean; dingtalk: boolean; sms: boolean };
  editor: boolean;
}

export interface FlowsOptions {
  log: Logger;
  /** Node-RED's user folder (DATA_DIR/node-red): its context, sessions and credentials. */
  userDir: string;
  /** Everything the flows read (flows/settings.js, env.get in the function nodes). */
  env: Record<string, string>;
  aedes: Aedes;
  /** The flows' MQTT client id: its subscription says they are listening. */
  clientId: string;
  editor: boolean;
}

/**
 * The notification flows (flows/flows.json) in a Node-RED 4 child process the platform supervises:
 * started with the platform, restarted with a growing pause if it dies, stopped with it. A child
 * rather than in-process: the flows' HTTP calls and function nodes never run on the broker's
 * thread, and a failing flow cannot take the platform down. They talk to the platform as any
 * stock Node-RED would: MQTT for events, the REST API for the directory and the timeline.
 */
export class NotificationFlows implements Extension {
  readonly name = 'notification-flows';
  private child?: ChildProcess;
  private stopping = false;
  private restarts = 0;
  private backoffMs = 1000;
  private restartTimer?: NodeJS.Timeout;
  private state: FlowsStatus['state'] = 'stopped';
  private subscribed = false;
  private waiters: (() => void)[] = [];
  private readonly onSubscribe = (subs: Subscription[], client: Client) => {
    if (client?.id !== this.opts.clientId || !subs.some((s) => s.topic === EVENTS_FILTER)) return;
    this.subscribed = true;
    this.state = 'running';
    this.backoffMs = 1000;
    for (const w of this.waiters.splice(0)) w();
  };
  private readonly onGone = (client: Client) => {
    if (client?.id === this.opts.clientId) this.subscribed = false;
  };

  constructor(private readonly opts: FlowsOptions) {}

  start(): void {
    this.stopping = false;
    mkdirSync(this.opts.userDir, { recursive: true, mode: 0o700 });
    this.opts.aedes.on('subscribe', this.onSubscribe);
    this.opts.aedes.on('clientDisconnect', this.onGone);
    this.spawn();
  }

  /** Resolves when the flows listen on the broker, or after `timeoutMs` (false: not yet). */
  listening(timeoutMs: number): Promise<boolean> {
    if (this.subscribed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  status(): FlowsStatus {
    const env = this.opts.env;
    return {
      state: this.state,
      subscribed: this.subscribed,
      restarts: this.restarts,
      pid: this.child?.pid ?? null,
      channels: { wecom: Boolean(env.WECOM_WEBHOOK_URL), dingtalk: Boolean(env.DINGTALK_WEBHOOK_URL), sms: Boolean(env.SMS_GATEWAY_URL) },
      editor: this.opts.editor,
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.opts.aedes.removeListener('subscribe', this.onSubscribe);
    this.opts.aedes.removeListener('clientDisconnect', this.onGone);
    const child = this.child;
    this.state = 'stopped';
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  private spawn(): void {
    this.state = this.restarts ? 'restarting' : 'starting';
    // A socket file left by a child that was killed would stop the next one from listening.
    rmSync(editorSocket(this.opts.userDir), { force: true });
    // Editor sign-ins do not outlive the child: a new admin token takes effect at the next start.
    rmSync(path.join(this.opts.userDir, '.sessions.json'), { force: true });
    const env = {
      ...inherited(),
      ...this.opts.env,
      NODE_RED_USER_DIR: this.opts.userDir,
      NODE_RED_EDITOR: String(this.opts.editor),
      NODE_RED_HOST: '127.0.0.1',
      NODE_RED_SOCKET: editorSocket(this.opts.userDir),
      PLATFORM_PARENT_PID: String(process.pid),
    };
    const child = spawn(process.execPath, [RED_JS, '--settings', path.join(FLOWS_DIR, 'settings.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const log = this.opts.log;
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop()!;
        for (const line of lines) forward(log, line);
      });
    }
    let ended = false;
    const again = (why: Record<string, unknown>) => {
      this.subscribed = false;
      if (ended || this.stopping) return;
      ended = true;
      this.restarts++;
      this.state = 'restarting';
      log.error({ ...why, restartInMs: this.backoffMs }, 'notification flows ended; restarting');
      this.restartTimer = setTimeout(() => this.spawn(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    };
    child.on('exit', (code, signal) => again({ code, signal }));
    // A child that could not even start gets no 'exit' of its own.
    child.on('error', (err) => again({ err }));
  }
}

/**
 * What the child takes from the platform's own environment: the system's basics and a proxy for
 * reaching the webhooks, nothing else (not the admin token, not the store's URL).
 */
const INHERITED = /^(PATH|HOME|TMPDIR|TZ|LANG|LC_[A-Z]+|(HTTPS?|NO)_PROXY|(https?|no)_proxy|NODE_EXTRA_CA_CERTS)$/;
const inherited = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => INHERITED.test(k)));

/** Node-RED's `2 Dec 15:08:12 - [warn] [function:名] text` lines into the platform's log, at their level. */
function forward(log: Logger, line: string): void {
  const m = /^\d+ \w+ [\d:]+ - \[(\w+)\] (.*)$/.exec(line);
  if (!m) {
    if (line.trim()) log.debug({ flows: line.trim() }, 'node-red');
    return;
  }
  const [, level, text] = m as unknown as [string, string, string];
  // Node-RED's notices at every start: the flows keep no credentials (README) and use no projects.
  const expected = !text.trim() || /credentials|^Projects disabled/i.test(text);
  if (level === 'error') log.error({ flows: text }, 'node-red');
  else if (level === 'warn' && !expected) log.warn({ flows: text }, 'node-red');
  else if (/^(Started flows|Stopped flows)/.test(text)) log.info({ flows: text }, 'node-red');
  else log.debug({ flows: text }, 'node-red');
}
