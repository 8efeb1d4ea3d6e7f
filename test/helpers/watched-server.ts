// A local HTTP server for tests of the upstream side that watches its own connections: each
// request's client port (the same port twice means the connection was reused) and the sockets
// still open. The test sets `handler` to answer, after the request body has been read.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export interface WatchedServer {
  /** http://127.0.0.1:<port> */
  url: string;
  server: Server;
  /** Client ports, one per request, since the last reset(). */
  ports: number[];
  sockets: Set<Socket>;
  handler: Handler;
  reset(): void;
  close(): Promise<void>;
}

export async function startWatchedServer(): Promise<WatchedServer> {
  const sockets = new Set<Socket>();
  const watched: WatchedServer = {
    url: '',
    server: createServer((req, res) => {
      watched.ports.push(req.socket.remotePort ?? 0);
      let body = '';
      req.setEncoding('utf8').on('data', (text: string) => (body += text));
      req.on('end', () => watched.handler(req, res, body));
    }),
    ports: [],
    sockets,
    handler: (_req, res) => res.writeHead(500).end(),
    reset() {
      watched.ports.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        watched.server.closeAllConnections();
        watched.server.close(() => resolve());
      }),
  };
  watched.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  watched.server.listen(0, '127.0.0.1');
  await once(watched.server, 'listening');
  watched.url = `http://127.0.0.1:${(watched.server.address() as AddressInfo).port}`;
  return watched;
}
