// Starting and stopping the benchmark's own servers, on loopback only.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1; close() drops open connections, runs `cleanup`, and waits for the server. */
export function listenOnLoopback(server: Server, port: number, cleanup: () => void = () => undefined): Promise<Listening> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            cleanup();
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
