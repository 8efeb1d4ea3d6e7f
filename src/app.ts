// buildApp: the whole gateway as a Fastify instance that never listens by itself. The process
// (server.ts) and the tests both build it from an already-validated Config.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from './config.ts';
import { GatewayError } from './errors.ts';
import { Breakers } from './cascade/breakers.ts';
import { systemClock, type Clock } from './cascade/clock.ts';
import { AnswerCache } from './gateway/answer-cache.ts';
import { Quotas } from './cascade/quotas.ts';
import { MemoryQuotaStore } from './state/quota-store.ts';
import { Gateway } from './gateway/gateway.ts';
import { Preflight } from './gateway/preflight.ts';
import { Clients } from './clients/clients.ts';
import { TokenQuota } from './gateway/token-quota.ts';
import { openSharedState, type SharedState } from './state/shared-state.ts';
import type { UsageRecorder } from './usage/usage-recorder.ts';
import { openAnswerStore } from './state/open-answer-store.ts';
import auth from './plugins/auth.ts';
import concurrencyLimit from './plugins/concurrency-limit.ts';
import { clientErrorHandler, connectRefusedHandler, continueWhenBodyRead, expectationFailedHandler } from './http/client-error.ts';
import errorHandler, { frameworkErrorHandler, unknownRoutes } from './plugins/error-handler.ts';
import gatewayPlugin from './plugins/gateway.ts';
import jsonBody from './plugins/json-body.ts';
import { GatewayMetrics } from './metrics/metrics.ts';
import requestMetrics from './plugins/metrics.ts';
import rateLimiting, { clientAddressKey } from './plugins/rate-limit.ts';
import requestId, { requestIdFor } from './plugins/request-id.ts';
import requestLog from './plugins/request-log.ts';
import swagger from './plugins/swagger.ts';
import type { Provider } from './providers/types.ts';
import { VERSION } from './version.ts';
import healthRoute from './routes/health.ts';
import metricsRoute from './routes/metrics.ts';
import openAiRoutes from './routes/openai/index.ts';
import queryRoute from './routes/query.ts';

export const BODY_LIMIT_BYTES = 64 * 1024;

/** How many Host lines a request carried (rawHeaders alternates names and values). */
function hostLines(rawHeaders: string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]?.length === 4 && rawHeaders[i]?.toLowerCase() === 'host') count += 1;
  return count;
}

/**
 * Fastify's trustProxy for TRUST_PROXY. Fastify refuses a bare hop count (it fails closed, since a
 * count cannot tell a proxy from a client connecting directly), so a count becomes a function:
 * the nearest `hops` addresses (the socket's peer first) are proxies, and the next one is the client.
 */
function trustProxyOption(setting: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof setting !== 'number') return setting;
  return (_address, hop) => hop < setting;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The gateway's clients; reload() re-reads KEYS_FILE (server.ts calls it on SIGHUP). */
    clients: Clients;
    /** Where limits, quotas and cooldowns live (state/shared-state.ts). */
    sharedState: SharedState;
    /** Usage records' writer, with DATABASE_URL. */
    usage: UsageRecorder | undefined;
  }
}

export interface AppDeps {
  /** The configured providers in cascade order (see providers/registry.ts). */
  providers: Provider[];
  logger: FastifyBaseLogger;
  /** Injectable clock for deadlines and cooldowns. */
  clock?: Clock;
}

/** The longest a stream may run after its first token. */
export const MAX_STREAM_MS = 5 * 60_000;

export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    // One line per request (plugins/request-log.ts) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: requestIdFor,
    requestIdHeader: false,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: trustProxyOption(config.trustProxy),
    // Explicit server timeouts: a slow client cannot hold a socket, an idle keep-alive
    // connection outlives a typical proxy's, and no request outlives its budget by much. The
    // socket's idle limit is the longer by a few of Node's once-a-second checks, so an upload
    // that stalls gets its 408 from the request limit rather than a silent close.
    connectionTimeout: config.requestTimeoutMs + 35_000,
    requestTimeout: config.requestTimeoutMs + 30_000,
    keepAliveTimeout: 72_000,
    // Fastify's own drain-time 503 has neither the documented body nor a request id; the
    // onRequest hook below answers it instead.
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    // Node would answer an HTTP/1.1 request without Host with a bare 400 of its own; the hook
    // below refuses it instead, with the documented body and a request id. Node enforces the
    // headers and request timeouts only when it checks its connections, every 30 s by default:
    // a slow request would get its 408 up to 30 s late, or see its socket time out first and
    // be closed without an answer.
    http: { requireHostHeader: false, connectionsCheckingInterval: 1_000 },
  });
  app.server.headersTimeout = 15_000;
  if (config.trustProxy === true) {
    app.log.warn(
      'TRUST_PROXY=true believes every X-Forwarded-For entry, so a client can choose the address its wrong keys and unknown routes are counted under: set TRUST_PROXY to the number of proxies in front of the gateway (1 on Hugging Face Spaces) or to their addresses',
    );
  }
  app.server.on('checkExpectation', expectationFailedHandler.bind(app));
  app.server.on('checkContinue', continueWhenBodyRead);
  app.server.on('connect', connectRefusedHandler.bind(app));
  // Only JSON bodies: without this, Fastify would parse text/plain too and answer 400, not 415.
  app.removeContentTypeParser('text/plain');
  await app.register(jsonBody);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const { providers, clock } = deps;
  const breakers = new Breakers({
    breakerThreshold: config.breakerThreshold,
    breakerCooldownMs: config.breakerCooldownMs,
    ...(clock ? { now: clock.now } : {}),
  });
  const now = clock ?? systemClock;
  const quotas = new Quotas(new MemoryQuotaStore(), new Map([...config.providers.values()].map((p) => [p.name, p.quota])), now);
  await quotas.start(providers);
  const metrics = new GatewayMetrics({ providers, breakers, quotas });
  // Limits, quotas and cooldowns: in memory, or shared by every replica through REDIS_URL.
  const shared = await openSharedState(config.redisUrl, breakers, metrics, deps.logger);
  app.decorate('sharedState', shared);
  app.addHook('onClose', () => shared.close());
  // Usage records: pg is loaded only with DATABASE_URL, as the Redis client only with REDIS_URL.
  const usage = config.databaseUrl === undefined ? undefined : await (await import('./usage/open-usage.ts')).openUsage(config.databaseUrl, config.usageBufferMax, deps.logger, (count) => metrics.usageRecordsDropped(count));
  if (usage) app.addHook('onClose', () => usage.close());
  const defaultTimeouts = { attemptMs: config.providerTimeoutMs, firstTokenMs: config.firstTokenTimeoutMs };
  const cache =
    config.cache.ttlS === 0 ? undefined : new AnswerCache(await openAnswerStore(config.cache, config.redisUrl, now, deps.logger), config.cache, now);
  if (cache) app.addHook('onClose', () => cache.store.close());
  // API_KEYS and KEYS_FILE's clients; a bad file stops the start here, naming what is wrong.
  const clients = new Clients({ apiKeys: config.apiKeys, keysFile: config.keysFile, rateLimitPerMinute: config.rateLimitPerMinute }, deps.logger);
  await clients.load();
  app.decorate('clients', clients);
  const gateway = new Gateway(providers, breakers, {
    cache,
    quotas,
    quota: new TokenQuota(shared.quotaStore, now),
    maxRetries: config.maxRetries,
    onContentFilter: config.onContentFilter,
    retryAfterWaitMaxMs: config.retryAfterWaitMaxMs,
    streamResume: config.streamResume,
    canPrefill: (provider) => config.providers.get(provider.name)?.row.capabilities.includes('prefill') ?? false,
    hedgeAfterMs: config.hedgeAfterMs,
    requestTimeoutMs: config.requestTimeoutMs,
    timeouts: (provider) => config.providers.get(provider.name)?.timeouts ?? defaultTimeouts,
    maxStreamMs: MAX_STREAM_MS,
    metrics,
    ...(clock ? { clock } : {}),
  });

  // Set as close() begins: a request that still arrives (on a connection already open) is
  // refused, and its connection closed, rather than started with the providers going away.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  // First, so every request is counted, those the hooks below refuse included.
  await app.register(requestMetrics, { metrics });
  // Without REDIS_URL the plugin's own in-memory store, as before.
  await app.register(rateLimiting, { store: shared.redis === undefined ? undefined : shared.limitStore });
  await app.register(requestId);
  if (config.logLevel === 'debug' || config.logLevel === 'trace') {
    // Which address the per-IP limits count a request under, and what it was resolved from: how an
    // operator checks TRUST_PROXY (docs/deployment.md). Never at info, where it would cost every request.
    app.addHook('onRequest', (request, _reply, done) => {
      request.log.debug(
        { ip: request.ip, counted_as: clientAddressKey(request), peer: request.socket.remoteAddress, x_forwarded_for: request.headers['x-forwarded-for'] },
        'client address',
      );
      done();
    });
  }
  await app.register(errorHandler);
  // After the error handler, so its preflight route answers errors in the documented shape too;
  // before every other hook, route and the key check, so a page can read their refusals as well
  // (a 503 while draining, an unknown route's 429, a 401). Loaded only when configured, as the
  // providers are.
  if (config.corsOrigins === '*' || config.corsOrigins.length > 0) {
    const { default: cors } = await import('./plugins/cors.ts');
    await app.register(cors, { origins: config.corsOrigins });
  }
  app.addHook('onRequest', (request, reply, done) => {
    if (closing) {
      reply.header('connection', 'close');
      return done(new GatewayError('shutting_down'));
    }
    const { httpVersionMajor, httpVersionMinor } = request.raw;
    if (httpVersionMajor === 1 && httpVersionMinor >= 1 && request.headers.host === undefined) {
      return done(new GatewayError('invalid_request', { message: 'An HTTP/1.1 request needs a Host header.' }));
    }
    // RFC 9112: more than one Host is refused (Node keeps the first and drops the rest silently).
    if (hostLines(request.raw.rawHeaders) > 1) {
      return done(new GatewayError('invalid_request', { message: 'A request may carry one Host header only.' }));
    }
    // RFC 9112: an HTTP/1.0 message framed by Transfer-Encoding may be misread by a proxy in
    // between, so its connection ends with it.
    if (httpVersionMinor === 0 && request.headers['transfer-encoding'] !== undefined) reply.header('connection', 'close');
    done();
  });
  await app.register(unknownRoutes, { perMinute: Math.max(60, config.authFailuresPerMinute) });
  await app.register(swagger, { version: VERSION, features: { jwt: config.jwt !== undefined, cache: config.cache.ttlS > 0 } });

  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('/docs'));
  await app.register(gatewayPlugin, { gateway });
  // The providers' keys and models, checked once the server listens (never before: it must not
  // delay readiness) and then every PREFLIGHT_INTERVAL_MS; stopped before the providers close.
  const preflight = config.preflightIntervalMs > 0 ? new Preflight({ providers, breakers, intervalMs: config.preflightIntervalMs, logger: app.log }) : undefined;
  if (preflight) {
    app.addHook('onListen', (done) => {
      preflight.start();
      done();
    });
    app.addHook('preClose', (done) => {
      void preflight.stop().then(() => done());
    });
  }
  await app.register(healthRoute, { config, version: VERSION, preflight });
  // Outside the per-key limit: Prometheus is no API client (see routes/metrics.ts for who may read it).
  await app.register(metricsRoute, { token: config.metricsToken, failuresPerMinute: config.authFailuresPerMinute });

  // Everything in here needs an API key and counts against that key's rate limit.
  await app.register(async function protectedRoutes(api) {
    // jose is loaded only when tokens are accepted, as the Redis client only with REDIS_URL.
    const jwt = config.jwt === undefined ? undefined : new (await import('./auth/jwt.ts')).JwtVerifier(config.jwt, now, app.log);
    // The key set is fetched as the gateway starts, so the first token does not wait for it; a
    // failure is logged, and the first token retries it once the cooldown allows.
    if (jwt) {
      api.addHook('onReady', async () => {
        void jwt.keys.refresh().catch(() => undefined);
      });
    }
    await api.register(auth, { clients, failuresPerMinute: config.authFailuresPerMinute, jwt });
    api.addHook(
      'onRequest',
      api.rateLimit({
        // The client's tier's requests_per_minute; RATE_LIMIT_PER_MINUTE without a clients file.
        max: (request) => request.policy?.requestsPerMinute ?? config.rateLimitPerMinute,
        timeWindow: 60_000,
        keyGenerator: (request) => request.clientId,
        // Counted in Redis with REDIS_URL, so the limit holds across replicas.
        nameSpace: 'per-client',
      } as Parameters<typeof api.rateLimit>[0]),
    );
    await api.register(concurrencyLimit, { maxPerKey: config.maxConcurrentPerKey });
    await api.register(queryRoute);
    await api.register(openAiRoutes, { prefix: '/v1' });
  });

  await app.register(requestLog);
  if (usage) await app.register((await import('./plugins/usage.ts')).default, { recorder: usage.recorder });
  app.decorate('usage', usage?.recorder);
  app.addHook('onResponse', async () => {
    // Draining: close() closes the connections idle when it starts; one that goes idle later, as
    // this answer ends, would otherwise keep close() (and the process, until SHUTDOWN_GRACE_MS
    // ends it with exit 1) waiting out its 72 s keep-alive. Next turn, once Node counts it idle.
    if (closing) setImmediate(() => app.server.closeIdleConnections());
  });
  return app;
}
