import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a stand-in channel received. */
export interface Received {
  channel: 'wecom' | 'dingtalk' | 'sms';
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: any;
  /** The text a person reads (WeCom markdown or text, DingTalk markdown, SMS text). */
  text: string;
  at: number;
  /** The answer given: 200, or 500 while the channel is made to fail. */
  status: number;
}

/**
 * One local HTTP server standing in for 企业微信's and 钉钉's group robots and an SMS gateway, on a
 * free loopback port: /wecom (`?key=`), /dingtalk (`?access_token=`, `&timestamp=&sign=`), /sms.
 * Each answers as the real one does on success; `fail(channel)` makes one answer 500.
 */
export async function startReceiver() {
  const received: Received[] = [];
  const failing = new Set<string>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const channel = url.pathname.slice(1) as Received['channel'];
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : undefined;
      const text = channel === 'wecom' ? (body?.markdown?.content ?? body?.text?.content ?? '') : channel === 'dingtalk' ? (body?.markdown?.text ?? body?.text?.content ?? '') : (body?.text ?? '');
      const status = failing.has(channel) ? 500 : 200;
      received.push({ channel, query: url.searchParams, headers: req.headers, body, text, at: Date.now(), status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? (channel === 'sms' ? '{"ok":true}' : '{"errcode":0,"errmsg":"ok"}') : '{"errcode":-1,"errmsg":"system busy"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    received,
    urls: { wecom: `${base}/wecom?key=test-key`, dingtalk: `${base}/dingtalk?access_token=test-token`, sms: `${base}/sms` },
    fail: (channel: Received['channel'], on = true) => void (on ? failing.add(channel) : failing.delete(channel)),
    /** Waits until a received request matches, or fails after `ms`. */
    async waitFor(pred: (r: Received) => boolean, ms = 5000, what = 'a matching message'): Promise<Received> {
      const end = Date.now() + ms;
      for (;;) {
        const hit = received.find(pred);
        if (hit) return hit;
        if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms; received: ${received.map((r) => `${r.channel}:${r.text.slice(0, 60)}`).join(' | ')}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
