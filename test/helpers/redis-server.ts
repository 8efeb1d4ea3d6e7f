// A real redis-server (Debian's package) on 127.0.0.1, on a free port with a throwaway directory
// and no persistence, started by a test and stopped after it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnProcess, type Spawned } from './process.ts';

const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? 'redis-server';

export const hasRedisServer = (() => {
  try {
    execFileSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
/** CI installs redis-server and sets this, so there the Redis tests always run. */
export const redisRequired = process.env.REQUIRE_REDIS === '1';
if (!hasRedisServer && !redisRequired) console.warn('redis-server is not installed: the Redis-backed tests are skipped here (apt-get install redis-server)');

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Answers once redis-server replies to PING. */
async function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(String(data).startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export async function startRedis(port?: number): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'slr-redis-'));
  const chosen = port ?? (await freePort());
  const args = ['--port', String(chosen), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory', '64mb', '--maxmemory-policy', 'volatile-lru'];
  const server: Spawned = spawnProcess(REDIS_SERVER, args, {});
  const deadline = Date.now() + 10_000;
  while (!(await pong(chosen))) {
    if (Date.now() > deadline || server.child.exitCode !== null) {
      server.stop();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start: ${server.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `redis://127.0.0.1:${chosen}`,
    port: chosen,
    async stop() {
      server.child.kill('SIGTERM');
      await server.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
