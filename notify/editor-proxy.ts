import http from 'node:http';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';

export const EDITOR_PATH = '/flows';

/**
 * Node-RED's editor (NODE_RED_EDITOR=true) on the platform's own port at /flows: requests and the
 * editor's websocket (/flows/comms) pass through to the child's socket file untouched, and
 * Node-RED asks for the admin token itself (flows/settings.js `adminAuth`).
 */
export async function proxyEditor(app: FastifyInstance, socketPath: string): Promise<void> {
  // Unix socket paths are short (108 bytes on Linux).
  if (Buffer.byteLength(socketPath) > 100) throw new Error(`NODE_RED_EDITOR: the editor's socket path ${socketPath} is too long for a Unix socket; use a shorter DATA_DIR`);
  await app.register(async (scope) => {
    // The editor's bodies pass through as they came: nothing here parses them.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
    const pass = (req: { raw: http.IncomingMessage }, reply: { hijack(): void; raw: http.ServerResponse }) => {
      reply.hijack();
      const upstream = http.request({ socketPath, method: req.raw.method, path: req.raw.url, headers: req.raw.headers }, (res) => {
        reply.raw.writeHead(res.statusCode ?? 502, res.headers);
        res.pipe(reply.raw);
      });
      upstream.on('error', () => {
        if (!reply.raw.headersSent) reply.raw.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
        reply.raw.end('Node-RED 编辑器未运行 (the flows editor is not running)');
      });
      req.raw.pipe(upstream);
    };
    scope.all(EDITOR_PATH, pass);
    scope.all(`${EDITOR_PATH}/*`, pass);
  });
  app.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    if (!req.url?.startsWith(`${EDITOR_PATH}/`)) {
      socket.destroy();
      return;
    }
    const upstream = net.connect(socketPath, () => {
      const headers = Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}: ${x}`));
      upstream.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
}
