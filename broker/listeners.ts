import { readFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { PlatformBroker } from './broker.ts';

export interface ListenerOptions {
  host: string;
  tcpPort: number;
  wsPort: number;
  tlsPort: number;
  tlsCert?: string;
  tlsKey?: string;
  maxPacketBytes: number;
}

export interface Listeners {
  ports: { mqtt: number; ws: number; tls?: number };
  /** Whether each listener still accepts connections (readiness). */
  listening(): Record<'mqtt' | 'ws' | 'tls', boolean | null>;
  close(): Promise<void>;
}

const listen = (server: net.Server, port: number, host: string) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

const closeServer = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** MQTT over TCP, over WebSocket (path-agnostic, subprotocol `mqtt`) and, given a certificate, over TLS. */
export async function startListeners(broker: PlatformBroker, opts: ListenerOptions): Promise<Listeners> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };

  // Without TCP_NODELAY both brokers show 10–40 ms stalls (Nagle + delayed ACK).
  const tcp = net.createServer({ noDelay: true }, (socket) => {
    track(socket);
    broker.handle(socket);
  });
  const mqtt = await listen(tcp, opts.tcpPort, opts.host);

  const httpServer = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
  });
  httpServer.on('connection', track);
  const wss = new WebSocketServer({ server: httpServer, maxPayload: opts.maxPacketBytes + 8, perMessageDeflate: false });
  wss.on('connection', (ws, req) => {
    const stream = createWebSocketStream(ws);
    stream.on('error', () => ws.terminate());
    broker.handle(stream, req);
  });
  const ws = await listen(httpServer, opts.wsPort, opts.host);

  let tlsServer: tls.Server | undefined;
  let tlsPort: number | undefined;
  if (opts.tlsCert && opts.tlsKey) {
    tlsServer = tls.createServer({ cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) }, (socket) => {
      socket.setNoDelay(true);
      track(socket);
      broker.handle(socket);
    });
    tlsPort = await listen(tlsServer, opts.tlsPort, opts.host);
  }

  return {
    ports: { mqtt, ws, tls: tlsPort },
    listening: () => ({ mqtt: tcp.listening, ws: httpServer.listening, tls: tlsServer ? tlsServer.listening : null }),
    async close() {
      for (const s of sockets) s.destroy();
      wss.close();
      await Promise.all([closeServer(tcp), closeServer(httpServer), tlsServer ? closeServer(tlsServer) : undefined]);
    },
  };
}
