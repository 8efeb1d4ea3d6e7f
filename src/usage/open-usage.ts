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

/** Connects and migrates; a database that cannot be reached at start stops it, naming the reason. */
export async function openUsage(url: string, maxBuffered: number, log: UsageLog, dropped: (count: number) => void): Promise<UsageDatabase> {
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, query_timeout: QUERY_TIMEOUT_MS, idleTimeoutMillis: 30_000 });
  // An idle connection the server closed (a restart) is reported here; without a listener it
  // would end the process. The next query opens a new one.
  pool.on('error', () => undefined);
  const applied = await migrate(pool);
  log.info({ applied }, 'usage records database ready');
  const recorder = new UsageRecorder(pool, log, dropped, maxBuffered);
  return {
    recorder,
    async close() {
      await recorder.close();
      await pool.end();
    },
  };
}
