// Usage records in PostgreSQL (DATABASE_URL): one row per request that reached the gateway,
// written off the request path. A request only appends its row to a buffer; every second (or
// once a batch is full) the buffer is written in one multi-row INSERT. While the database is down
// the rows wait and the writer keeps trying; past MAX_BUFFERED rows the oldest are dropped,
// counted in a metric and logged (once per outage, with a count when it ends). No request ever
// waits on the database.
import type { Pool } from 'pg';

export interface UsageRow {
  at: Date;
  client: string;
  route: string;
  provider: string | null;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  reasoningTokens: number | null;
  latencyMs: number;
  status: number;
  requestId: string;
}

export interface UsageLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

/** Rows kept while the database is away; beyond them the oldest are dropped. */
export const MAX_BUFFERED = 10_000;
/** Rows per INSERT (11 parameters each, well under PostgreSQL's 65,535). */
export const BATCH_ROWS = 500;
export const FLUSH_EVERY_MS = 1_000;

const COLUMNS = ['at', 'client', 'route', 'provider', 'model', 'prompt_tokens', 'completion_tokens', 'reasoning_tokens', 'latency_ms', 'status', 'request_id'];

function insertOf(rows: readonly UsageRow[]): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const tuples = rows.map((row) => {
    const start = values.length;
    values.push(row.at, row.client, row.route, row.provider, row.model, row.promptTokens, row.completionTokens, row.reasoningTokens, row.latencyMs, row.status, row.requestId);
    return `(${COLUMNS.map((_, i) => `$${start + i + 1}`).join(', ')})`;
  });
  return { text: `INSERT INTO usage_records (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, values };
}

export class UsageRecorder {
  readonly #pool: Pool;
  readonly #log: UsageLog;
  readonly #dropped: (count: number) => void;
  readonly #maxBuffered: number;
  #buffer: UsageRow[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #failing = false;
  #droppedThisOutage = 0;
  #closed = false;
  /** Run before the first write (the schema's migrations), and again after each failure until it succeeds. */
  #prepare: (() => Promise<void>) | undefined;

  constructor(pool: Pool, log: UsageLog, dropped: (count: number) => void, maxBuffered = MAX_BUFFERED, prepare?: () => Promise<void>) {
    this.#pool = pool;
    this.#prepare = prepare;
    this.#log = log;
    this.#dropped = dropped;
    this.#maxBuffered = maxBuffered;
    this.#timer = setInterval(() => void this.flush(), FLUSH_EVERY_MS);
    this.#timer.unref();
  }

  /** Rows waiting to be written. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** O(1) on the request path: the row joins the buffer; the oldest goes if it is full. */
  record(row: UsageRow): void {
    if (this.#closed) return;
    this.#buffer.push(row);
    if (this.#buffer.length > this.#maxBuffered) {
      const excess = this.#buffer.length - this.#maxBuffered;
      this.#buffer.splice(0, excess);
      this.#dropped(excess);
      if (this.#droppedThisOutage === 0) this.#log.warn({ buffered: this.#maxBuffered }, 'usage records buffer full: dropping the oldest until the database takes them again');
      this.#droppedThisOutage += excess;
    }
    if (this.#buffer.length >= BATCH_ROWS && !this.#failing) void this.flush();
  }

  /** Writes what is buffered, batch by batch; one write at a time. */
  flush(): Promise<void> {
    this.#writing ??= this.#write().finally(() => {
      this.#writing = undefined;
    });
    return this.#writing;
  }

  async #write(): Promise<void> {
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.slice(0, BATCH_ROWS);
      try {
        if (this.#prepare !== undefined) {
          await this.#prepare();
          this.#prepare = undefined;
        }
        await this.#pool.query(insertOf(batch));
      } catch (error) {
        if (!this.#failing) this.#log.warn({ reason: (error as Error).message, buffered: this.#buffer.length }, 'usage records not written; keeping them and trying again');
        this.#failing = true;
        return;
      }
      // Rows dropped meanwhile came off the front: remove exactly the written ones still there.
      const written = new Set(batch);
      this.#buffer = this.#buffer.filter((row) => !written.has(row));
      if (this.#failing) {
        this.#log.info({ dropped: this.#droppedThisOutage }, 'usage records written again');
        this.#failing = false;
        this.#droppedThisOutage = 0;
      }
    }
  }

  /** Stops the timer and writes what it can within the pool's own timeouts. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
    this.#closed = true;
  }
}
