// Starts the real gateway on an ephemeral loopback port with the fake providers behind it
// (the same simulator `SIMULATED_PROVIDERS=true` uses), and captures its log lines.
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import type { Clock } from '../../src/cascade/clock.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createProviders } from '../../src/providers/registry.ts';
import { startSimulator, type FakeServers } from '../../src/simulator/start-simulator.ts';

export const KEY = 'test-client-key-0001';
export const OTHER_KEY = 'test-client-key-0002';

export interface TestGateway {
  url: string;
  app: FastifyInstance;
  config: Config;
  fakes: FakeServers;
  /** Every log line written so far, parsed. */
  logs: Array<Record<string, unknown>>;
  /** The raw log text, for "this secret never appears" checks. */
  logText(): string;
  /** Resets every fake to answer normally and forgets what they received. */
  resetFakes(): void;
  close(): Promise<void>;
}

export const FAST_TIMEOUTS = {
  PROVIDER_TIMEOUT_MS: '400',
  REQUEST_TIMEOUT_MS: '1500',
  FIRST_TOKEN_TIMEOUT_MS: '400',
};

/**
 * The published free-tier limits (Groq's 30 requests a minute, OpenRouter's 20) would send the
 * suites' bursts elsewhere; the quota tests (quotas.test.ts) name their own.
 */
const NO_QUOTAS = { GEMINI_LIMITS: 'none', GROQ_LIMITS: 'none', OPENROUTER_LIMITS: 'none' };

export interface StartOptions {
  /** The gateway's clock (deadlines, cooldowns, key set and cache ages); the system's by default. */
  clock?: Clock;
}

export async function startGateway(env: Record<string, string> = {}, options: StartOptions = {}): Promise<TestGateway> {
  const simulated = env.SIMULATED_PROVIDERS !== 'false';
  let config = loadConfig({
    API_KEYS: `${KEY},${OTHER_KEY}`,
    RATE_LIMIT_PER_MINUTE: '1000',
    LOG_LEVEL: 'info',
    SIMULATED_PROVIDERS: String(simulated),
    // Off unless a test turns it on: many tests count the requests that reach the fakes.
    PREFLIGHT_INTERVAL_MS: '0',
    ...FAST_TIMEOUTS,
    ...NO_QUOTAS,
    ...env,
  });
  const simulator = simulated ? await startSimulator(config) : undefined;
  if (simulator) config = simulator.config;

  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ level: config.logLevel, destination });
  const app = await buildApp(config, { providers: await createProviders(config), logger, ...(options.clock ? { clock: options.clock } : {}) });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });

  return {
    url,
    app,
    config,
    fakes: simulator?.servers ?? ({} as FakeServers),
    get logs() {
      return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    logText: () => lines.join('\n'),
    resetFakes() {
      for (const fake of Object.values(simulator?.servers ?? {})) fake.reset();
    },
    async close() {
      // The test is over: a connection a raw-socket test left mid-request must not hold the close
      // until the server's request timeout (draining itself is tested in shutdown.test.ts).
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
      await simulator?.close();
    },
  };
}

export interface QueryOptions {
  key?: string | null;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** POST /query with JSON and the test key. */
export function query(gateway: TestGateway, body: unknown, options: QueryOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  const key = options.key === undefined ? KEY : options.key;
  if (key !== null) headers['x-api-key'] = key;
  return fetch(`${gateway.url}/query`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Asserts the documented error body and returns it. */
export async function errorOf(response: Response): Promise<{ code: string; message: string; request_id: string; details?: Array<{ field: string; message: string }> }> {
  const body = (await response.json()) as { error: { code: string; message: string; request_id: string } };
  if (!body.error || typeof body.error.code !== 'string' || typeof body.error.message !== 'string') {
    throw new Error(`not the documented error body: ${JSON.stringify(body)}`);
  }
  if (body.error.request_id !== response.headers.get('x-request-id')) {
    throw new Error('error body request_id differs from the x-request-id header');
  }
  return body.error;
}

/** A response body as JSON, loosely typed: tests assert its shape field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function json(response: Response | Promise<Response>): Promise<any> {
  return (await response).json();
}
