// The usage records' database (DATABASE_URL): a small pg pool with bounded waits, the schema
// migrated at start, and the recorder that writes batches. Loaded only when DATABASE_URL is set.
import pg from 'pg';
import { migrate } from './migrate.ts';
import { UsageRecorder, type UsageLog } from './usage-recorder.ts';

const CONNECT_TIMEOUT_MS = 2_000;
const QUERY_TIMEOUT_MS = 5_000;

export interface UsageDatabase {
  recorder: UsageRecorder;
  close(): Promise<void>;
}

/**
 * Migrates the schema, and returns the recorder. A database that cannot be reached at start does
 * not stop the gateway: it is logged, rows wait in the buffer, and the migration is tried again
 * before the next write.
 */
export async function openUsage(url: string, maxBuffered: number, log: UsageLog, dropped: (count: number) => void): Promise<UsageDatabase> {
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, query_timeout: QUERY_TIMEOUT_MS, idleTimeoutMillis: 30_000 });
  // An idle connection the server closed (a restart) is reported here; without a listener it
  // would end the process. The next query opens a new one.
  pool.on('error', () => undefined);
  const prepare = async () => {
    const applied = await migrate(pool);
    log.info({ applied }, 'usage records database ready');
  };
  let pending: (() => Promise<void>) | undefined;
  await prepare().catch((error: Error) => {
    log.warn({ reason: error.message }, 'usage records database unavailable at start; rows are kept and the schema is checked again before they are written');
    pending = prepare;
  });
  const recorder = new UsageRecorder(pool, log, dropped, maxBuffered, pending);
  return {
    recorder,
    async close() {
      await recorder.close();
      await pool.end();
    },
  };
}
