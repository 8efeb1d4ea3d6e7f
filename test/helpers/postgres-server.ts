// A real PostgreSQL (Debian's package) on 127.0.0.1, on a free port with a throwaway data
// directory, started by a test and stopped after it. PostgreSQL refuses to run as root, so as
// root the cluster belongs to the postgres user and its commands run through runuser.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './process.ts';

/** The newest installed server's binaries (/usr/lib/postgresql/<version>/bin). */
const BIN = (() => {
  if (process.env.POSTGRES_BIN) return process.env.POSTGRES_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl'))).sort((x, y) => Number(y) - Number(x));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
})();

export const hasPostgres = BIN !== undefined;
/** CI installs postgresql and sets this, so there the usage tests always run. */
export const postgresRequired = process.env.REQUIRE_POSTGRES === '1';
if (!hasPostgres && !postgresRequired) console.warn('postgresql is not installed: the usage-record tests are skipped here (apt-get install postgresql)');

const asRoot = process.getuid?.() === 0;
const ids = (() => {
  if (!asRoot) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
})();

function run(command: string, args: string[]): string {
  const full = join(BIN as string, command);
  return asRoot ? execFileSync('runuser', ['-u', 'postgres', '--', full, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) : execFileSync(full, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface PostgresServer {
  url: string;
  port: number;
  /** Stops the server, keeping its data (start() brings it back on the same port). */
  pause(): void;
  start(): void;
  stop(): void;
}

export async function startPostgres(): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'slr-pg-'));
  const data = join(dir, 'data');
  if (ids) {
    chownSync(dir, ids.uid, ids.gid);
    chmodSync(dir, 0o700);
  }
  const port = await freePort();
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off`;
  const start = () => run('pg_ctl', ['-D', data, '-o', options, '-w', '-t', '30', '-l', join(dir, 'log'), 'start']);
  const pause = () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    pause,
    start,
    stop() {
      try {
        pause();
      } catch {
        // Already stopped.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
