// The one place that reads the environment. Everything else receives a validated Config, whose
// type is inferred from the schema below. Each provider's variables (<NAME>_API_KEY, _MODEL,
// _BASE_URL, ...) are derived from its registry row (providers/registry.ts), for the built-in
// providers and for the ones EXTRA_PROVIDERS names alike.
import { isIP } from 'node:net';
import { z } from 'zod';
import { bool, commaList, FALSY, host, int, modelId, optionalSecret, TRUTHY, url } from './config-fields.ts';
import { BUILT_IN_NAMES, BUILT_IN_PROVIDERS, envPrefix, openAiCompatibleRow, type ProviderRow } from './providers/registry.ts';
import type { QuotaPlan } from './cascade/quotas.ts';
import type { QuotaLimits, QuotaWindow } from './state/quota-store.ts';

export { isSafeModelId } from './config-fields.ts';

const providerOrder = commaList.pipe(
  z
    .array(z.string())
    .min(1, 'must name at least one provider')
    .refine((list) => new Set(list).size === list.length, 'must not repeat a provider'),
);

/** A name an operator gives a provider of their own: it prefixes its variables and names it in `model`. */
const EXTRA_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const extraProviders = commaList.pipe(
  z
    .array(
      z
        .string()
        .regex(EXTRA_NAME, 'must list names of lowercase letters, digits and _ (starting with a letter)')
        .refine((name) => !BUILT_IN_NAMES.includes(name) && name !== 'auto', {
          error: (issue) => `names "${String(issue.input)}", which is taken (${BUILT_IN_NAMES.join(', ')} and auto are)`,
        }),
    )
    .refine((list) => new Set(list).size === list.length, 'must not repeat a provider'),
);

const timeoutMs = int(50, 600_000);

/** One provider's variables, without their prefix. */
const PROVIDER_VARIABLES = {
  apiKey: 'API_KEY',
  model: 'MODEL',
  baseUrl: 'BASE_URL',
  embeddingModel: 'EMBEDDING_MODEL',
  timeoutMs: 'TIMEOUT_MS',
  firstTokenTimeoutMs: 'FIRST_TOKEN_TIMEOUT_MS',
  reasoningEffort: 'REASONING_EFFORT',
  limits: 'LIMITS',
} as const;

/**
 * <NAME>_LIMITS: "rpm=30,rpd=1000,tpm=8000,tpd=200000" (any subset), or "none" to track no quota
 * for the provider. Unset: the row's published free-tier figures for its model, if any.
 */
const quotaLimits = z
  .string()
  .trim()
  .transform((value, ctx): QuotaLimits | null => {
    if (value.toLowerCase() === 'none') return null;
    const limits: QuotaLimits = {};
    for (const part of value.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
      const match = /^(rpm|rpd|tpm|tpd)\s*=\s*(\d{1,12})$/i.exec(part);
      const window = match?.[1]?.toLowerCase() as QuotaWindow | undefined;
      if (match === null || window === undefined || window in limits || Number(match[2]) < 1) {
        ctx.addIssue({ code: 'custom', message: `must be none, or a comma-separated list of rpm=, rpd=, tpm=, tpd= with whole numbers from 1, each at most once, such as rpm=30,rpd=1000 ("${part}" is not one)` });
        return z.NEVER;
      }
      limits[window] = Number(match[2]);
    }
    return limits;
  });

/** A provider's reasoning control when the caller names none; "default": send none, the model's own applies. */
export const REASONING_SETTINGS = ['default', 'none', 'minimal', 'low', 'medium', 'high'] as const;

const providerSchema = z.object({
  apiKey: optionalSecret,
  reasoningEffort: z.enum(REASONING_SETTINGS, { error: `must be one of ${REASONING_SETTINGS.join(', ')}` }),
  model: modelId,
  baseUrl: url,
  embeddingModel: modelId.optional(),
  timeoutMs: timeoutMs.optional(),
  firstTokenTimeoutMs: timeoutMs.optional(),
  limits: quotaLimits.optional(),
});

/** One provider as configured. */
export interface ProviderSettings extends Omit<z.output<typeof providerSchema>, 'timeoutMs' | 'firstTokenTimeoutMs' | 'limits'> {
  name: string;
  /** Its quota plan: the known limits of its configured model (null: not tracked) and when its day turns. */
  quota: QuotaPlan;
  row: ProviderRow;
  /** The row's own settings (OPENROUTER_APP_TITLE, ...), by the row's option names. */
  options: Record<string, string | undefined>;
  timeouts: { attemptMs: number; firstTokenMs: number };
}

/** The names proxy-addr (Fastify's trustProxy) knows for address ranges. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const isAddressOrRange = (entry: string): boolean => {
  if (PROXY_RANGE_NAMES.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
};

/** More proxies than any real deployment puts in front of a service; a larger count is a typo. */
const MAX_PROXY_HOPS = 16;

/**
 * Whose X-Forwarded-For to believe: every hop (yes; then a client can name its own address), none
 * (no), a number of proxies in front of the gateway (the address the nearest of them saw is the
 * client's, and anything a client wrote before it is ignored), or only proxies at these addresses
 * and ranges, so the client's address is the first one a trusted proxy wrote. A number is right
 * only when every request passes through exactly that many proxies, as on a platform that cannot
 * be reached around its proxy; Fastify itself takes no hop count (app.ts turns it into a trust
 * function).
 */
const trustProxy = z
  .string()
  .trim()
  .transform((value, ctx): boolean | number | string[] => {
    const word = value.toLowerCase();
    if (word === '0') return false;
    if (/^\d+$/.test(word)) {
      const hops = Number(word);
      if (hops <= MAX_PROXY_HOPS) return hops;
    } else {
      if (TRUTHY.includes(word)) return true;
      if (FALSY.includes(word)) return false;
      const entries = value
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry.length > 0);
      if (entries.length > 0 && entries.every(isAddressOrRange)) return entries;
    }
    ctx.addIssue({
      code: 'custom',
      message: `must be true, false, a number of proxies in front of the gateway (1 to ${MAX_PROXY_HOPS}), or a comma-separated list of proxy addresses and CIDR ranges (or loopback, linklocal, uniquelocal)`,
    });
    return z.NEVER;
  });

/**
 * Which web pages may call the gateway from a browser: none (unset), any ("*"), or these origins
 * ("https://app.example.com"), written as a browser sends them in its Origin header.
 */
const corsOrigins = z
  .string()
  .trim()
  .transform((value, ctx): '*' | string[] => {
    if (value === '*') return '*';
    const origins: string[] = [];
    for (const entry of value.split(',').map((part) => part.trim()).filter((part) => part.length > 0)) {
      if (entry === '*') {
        ctx.addIssue({ code: 'custom', message: 'may be "*" (every origin) or a list of origins, not both' });
        return z.NEVER;
      }
      const origin = URL.canParse(entry) ? new URL(entry) : undefined;
      // A trailing slash is forgiven; a path, query or credentials would never match an Origin.
      if (origin === undefined || !/^https?:$/.test(origin.protocol) || `${origin.origin}/` !== origin.href) {
        ctx.addIssue({ code: 'custom', message: `must be "*" or a comma-separated list of origins such as https://app.example.com ("${entry}" is not one)` });
        return z.NEVER;
      }
      origins.push(origin.origin);
    }
    return origins;
  });

/**
 * The Bearer token GET /metrics asks for; unset, /metrics answers only direct connections from
 * this machine. A token short enough to guess on a public port is refused at start-up.
 */
const metricsToken = optionalSecret.refine((value) => value === undefined || value.length >= 16, 'must be at least 16 characters (for example: openssl rand -hex 32)');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Where the signing keys come from: https, or http on this machine only (keys over plain http could be swapped). */
const jwksUrl = z
  .url({ protocol: /^https?$/, error: 'must be the https URL of a JSON Web Key Set' })
  .transform((value) => new URL(value))
  .refine((url) => url.protocol === 'https:' || LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith('127.'), 'must be an https URL (plain http only on localhost)')
  .refine((url) => url.username === '' && url.password === '', 'must not carry user:password');
/** A Redis to share state through: redis:// or rediss:// (TLS), with a password when it needs one. */
const redisUrl = z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' });

/** Where usage records go: a PostgreSQL URL (its password is never logged). */
const databaseUrl = z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' });

// Loose: each provider's variables are read from the rest (see providersFrom).
const baseSchema = z.looseObject({
    API_KEYS: commaList.pipe(z.array(z.string().min(1)).min(1, 'must list at least one client key')).optional(),
    KEYS_FILE: z.string().trim().min(1).optional(),
    PORT: int(0, 65535).default(7860),
    HOST: host.default('0.0.0.0'),
    RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(10),
    AUTH_FAILURES_PER_MINUTE: int(1, 1_000_000).default(20),
    MAX_CONCURRENT_PER_KEY: int(1, 10_000).default(8),

    PROVIDER_ORDER: providerOrder.optional(),
    EXTRA_PROVIDERS: extraProviders.default([]),

    PROVIDER_TIMEOUT_MS: timeoutMs.default(5000),
    REQUEST_TIMEOUT_MS: timeoutMs.default(10_000),
    FIRST_TOKEN_TIMEOUT_MS: timeoutMs.default(4000),
    MAX_RETRIES: int(0, 10).default(1),
    HEDGE_AFTER_MS: int(0, 600_000).default(0),
    CIRCUIT_BREAKER_THRESHOLD: int(1, 1000).default(3),
    CIRCUIT_BREAKER_COOLDOWN_MS: int(0, 3_600_000).default(30_000),
    SHUTDOWN_GRACE_MS: int(0, 600_000).default(8_000),
    // Models retire: the start-up check asks again this often (0: never asks).
    PREFLIGHT_INTERVAL_MS: int(0, 7 * 86_400_000).default(6 * 3_600_000),
    ON_CONTENT_FILTER: z.enum(['stop', 'next'], { error: 'must be stop or next' }).default('stop'),
    RETRY_AFTER_WAIT_MAX_MS: int(0, 60_000).default(2000),
    STREAM_RESUME: bool.default(false),

    METRICS_TOKEN: metricsToken,
    TRUST_PROXY: trustProxy.default(false),
    CORS_ORIGINS: corsOrigins.default([]),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
    SIMULATED_PROVIDERS: bool.default(false),
    SIMULATED_FAULTS: z.string().default(''),

    JWT_JWKS_URL: jwksUrl.optional(),
    JWT_ISSUER: z.string().trim().min(1).optional(),
    JWT_AUDIENCE: commaList.pipe(z.array(z.string())).optional(),
    JWT_TIER_CLAIM: z.string().trim().min(1).max(64).optional(),
    JWT_CLOCK_SKEW_S: int(0, 300).default(30),

    CACHE_TTL_S: int(0, 7 * 86_400).default(0),
    CACHE_SCOPE: z.enum(['client', 'shared'], { error: 'must be client or shared' }).default('client'),
    CACHE_MAX_ENTRIES: int(1, 1_000_000).default(1000),
    CACHE_MAX_MB: int(1, 4096).default(16),
    REDIS_URL: redisUrl.optional(),
    DATABASE_URL: databaseUrl.optional(),
    USAGE_BUFFER_MAX: int(10, 1_000_000).default(10_000),
});

export const envSchema = baseSchema
  // The failover budget holds the wait for a first sign of life: a longer wait could never be had.
  // (PROVIDER_TIMEOUT_MS, a silence once the provider has started, is not bounded by it.)
  .refine((env) => env.FIRST_TOKEN_TIMEOUT_MS <= env.REQUEST_TIMEOUT_MS, {
    path: ['FIRST_TOKEN_TIMEOUT_MS'],
    message: 'must not exceed REQUEST_TIMEOUT_MS, which holds the wait for a first token',
  })
  .superRefine((env, ctx) => {
    // Without either, no client could ever be let in.
    if (env.API_KEYS === undefined && env.KEYS_FILE === undefined) ctx.addIssue({ code: 'custom', path: ['API_KEYS'], message: 'is required' });
    if (env.JWT_JWKS_URL === undefined) return;
    // Without both, any token the identity provider issued for any application would do.
    if (env.JWT_ISSUER === undefined) ctx.addIssue({ code: 'custom', path: ['JWT_ISSUER'], message: 'is required when JWT_JWKS_URL is set' });
    if ((env.JWT_AUDIENCE ?? []).length === 0) ctx.addIssue({ code: 'custom', path: ['JWT_AUDIENCE'], message: 'is required when JWT_JWKS_URL is set' });
  })
  .transform((env, ctx) => {
    const providers = providersFrom(env, ctx);
    const providerOrder = env.PROVIDER_ORDER ?? [...BUILT_IN_NAMES, ...env.EXTRA_PROVIDERS];
    const unknown = providerOrder.filter((name) => !BUILT_IN_NAMES.includes(name) && !env.EXTRA_PROVIDERS.includes(name));
    if (unknown.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['PROVIDER_ORDER'],
        message: `names ${unknown.map((name) => `"${name}"`).join(', ')}, which is not a provider (use ${[...BUILT_IN_NAMES, ...env.EXTRA_PROVIDERS].join(', ')}; add one of your own with EXTRA_PROVIDERS)`,
      });
    }
    return {
      apiKeys: env.API_KEYS ?? [],
      /** The clients file (clients/keys-file.ts): tiers, and clients by their key's SHA-256. */
      keysFile: env.KEYS_FILE,
      port: env.PORT,
      host: env.HOST,
      rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
      authFailuresPerMinute: env.AUTH_FAILURES_PER_MINUTE,
      /** Requests one client key may have in flight at once, streams included. */
      maxConcurrentPerKey: env.MAX_CONCURRENT_PER_KEY,
      providerOrder,
      /** Every known provider, built-in and extra, configured or not, by name. */
      providers,
      providerTimeoutMs: env.PROVIDER_TIMEOUT_MS,
      requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
      firstTokenTimeoutMs: env.FIRST_TOKEN_TIMEOUT_MS,
      maxRetries: env.MAX_RETRIES,
      /** Start the next provider beside one silent this long before its first token; undefined: off. */
      hedgeAfterMs: env.HEDGE_AFTER_MS === 0 ? undefined : env.HEDGE_AFTER_MS,
      breakerThreshold: env.CIRCUIT_BREAKER_THRESHOLD,
      breakerCooldownMs: env.CIRCUIT_BREAKER_COOLDOWN_MS,
      shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
      /** How often the providers' keys and models are checked (gateway/preflight.ts); 0: never. */
      preflightIntervalMs: env.PREFLIGHT_INTERVAL_MS,
      /** A provider's content refusal: 'stop' answers it to the caller, 'next' asks the next provider. */
      onContentFilter: env.ON_CONTENT_FILTER,
      /** The first provider's Retry-After up to this long is waited out once (0: never). */
      retryAfterWaitMaxMs: env.RETRY_AFTER_WAIT_MAX_MS,
      /** A stream broken after its first text is finished by the next provider that takes a prefill. */
      streamResume: env.STREAM_RESUME,
      /** Whose X-Forwarded-For to believe: every hop, none, this many proxies, or the proxies' addresses and ranges. */
      trustProxy: env.TRUST_PROXY,
      /** The Bearer token for GET /metrics; unset: only direct loopback connections may scrape. */
      metricsToken: env.METRICS_TOKEN,
      /** Origins whose pages may call the gateway ("*": any); empty: no CORS headers at all. */
      corsOrigins: env.CORS_ORIGINS,
      logLevel: env.LOG_LEVEL,
      simulated: env.SIMULATED_PROVIDERS,
      simulatedFaults: env.SIMULATED_FAULTS,
      /** Signed-in users' tokens (auth/jwt.ts); undefined: API keys only. */
      jwt:
        env.JWT_JWKS_URL === undefined
          ? undefined
          : { jwksUrl: env.JWT_JWKS_URL, issuer: env.JWT_ISSUER ?? '', audience: env.JWT_AUDIENCE ?? [], tierClaim: env.JWT_TIER_CLAIM, clockSkewS: env.JWT_CLOCK_SKEW_S },
      /** The answer cache (gateway/answer-cache.ts); ttlS 0: off. */
      cache: { ttlS: env.CACHE_TTL_S, scope: env.CACHE_SCOPE, maxEntries: env.CACHE_MAX_ENTRIES, maxBytes: env.CACHE_MAX_MB * 1024 * 1024 },
      /** Where state shared between replicas lives; undefined: each process keeps its own. */
      redisUrl: env.REDIS_URL,
      /** Where a row per request is written (usage/usage-recorder.ts); undefined: metrics and logs only. */
      databaseUrl: env.DATABASE_URL,
      /** Usage records kept while the database is away; beyond them the oldest are dropped. */
      usageBufferMax: env.USAGE_BUFFER_MAX,
    };
  });

export type Config = z.output<typeof envSchema>;

/**
 * The variables a provider's row gives it (without the per-provider timeouts, which every
 * provider takes alike): GROQ_API_KEY, GROQ_MODEL, GROQ_BASE_URL, ...
 */
export function providerVariables(row: ProviderRow): string[] {
  const prefix = envPrefix(row.name);
  const own: Array<keyof typeof PROVIDER_VARIABLES> = ['apiKey', 'model', 'baseUrl', 'reasoningEffort', 'limits', ...(row.capabilities.includes('embeddings') ? (['embeddingModel'] as const) : [])];
  return [...own.map((field) => `${prefix}_${PROVIDER_VARIABLES[field]}`), ...Object.keys(row.options ?? {}).map((option) => `${prefix}_${option}`)];
}

/** Every variable the gateway reads by name: the common ones and the built-in providers'. */
export const documentedVariables = (): string[] => [...Object.keys(baseSchema.shape), ...BUILT_IN_PROVIDERS.flatMap(providerVariables)];

interface ProviderEnv {
  [variable: string]: unknown;
  EXTRA_PROVIDERS: string[];
  SIMULATED_PROVIDERS: boolean;
  PROVIDER_TIMEOUT_MS: number;
  FIRST_TOKEN_TIMEOUT_MS: number;
  REQUEST_TIMEOUT_MS: number;
}

/**
 * Each provider's settings from its variables: the built-in rows, then the EXTRA_PROVIDERS ones,
 * which speak OpenAI's Chat Completions at a base URL the operator names. An issue names the
 * variable, as every other does.
 */
function providersFrom(env: ProviderEnv, ctx: z.RefinementCtx): Map<string, ProviderSettings> {
  const rows = [...BUILT_IN_PROVIDERS, ...env.EXTRA_PROVIDERS.map((name) => openAiCompatibleRow(name))];
  const providers = new Map<string, ProviderSettings>();
  for (const row of rows) {
    const prefix = envPrefix(row.name);
    const read = (field: keyof typeof PROVIDER_VARIABLES) => env[`${prefix}_${PROVIDER_VARIABLES[field]}`] as string | undefined;
    // In simulated mode the simulator points every provider at a fake, so an extra one needs neither.
    const simulatedExtra = env.SIMULATED_PROVIDERS && row.defaultBaseUrl === undefined;
    const raw = {
      apiKey: read('apiKey'),
      model: read('model') ?? row.defaultModel ?? (simulatedExtra ? 'local-model' : undefined),
      baseUrl: read('baseUrl') ?? row.defaultBaseUrl ?? (simulatedExtra ? 'http://127.0.0.1/v1' : undefined),
      embeddingModel: row.capabilities.includes('embeddings') ? (read('embeddingModel') ?? row.defaultEmbeddingModel) : undefined,
      timeoutMs: read('timeoutMs'),
      firstTokenTimeoutMs: read('firstTokenTimeoutMs'),
      reasoningEffort: read('reasoningEffort')?.trim().toLowerCase() ?? row.defaultReasoningEffort,
      limits: read('limits'),
    };
    const parsed = providerSchema.safeParse(raw);
    const optionNames = Object.keys(row.options ?? {});
    const options = z.object(row.options ?? {}).safeParse(Object.fromEntries(optionNames.map((option) => [option, env[`${prefix}_${option}`]])));
    for (const issue of parsed.error?.issues ?? []) {
      const field = String(issue.path[0]) as keyof typeof PROVIDER_VARIABLES;
      ctx.addIssue({ code: 'custom', path: [`${prefix}_${PROVIDER_VARIABLES[field]}`], message: raw[field] === undefined ? 'is required' : issue.message });
    }
    for (const issue of options.error?.issues ?? []) ctx.addIssue({ code: 'custom', path: [`${prefix}_${String(issue.path[0])}`], message: issue.message });
    if (!parsed.success || !options.success) continue;
    const { timeoutMs: attemptMs, firstTokenTimeoutMs, limits, ...settings } = parsed.data;
    if (firstTokenTimeoutMs !== undefined && firstTokenTimeoutMs > env.REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: [`${prefix}_FIRST_TOKEN_TIMEOUT_MS`],
        message: 'must not exceed REQUEST_TIMEOUT_MS, which holds the wait for a first token (raise REQUEST_TIMEOUT_MS too)',
      });
      continue;
    }
    providers.set(row.name, {
      name: row.name,
      row,
      quota: { limits: limits === undefined ? (row.quota?.defaults(settings.model) ?? {}) : limits, day: row.quota?.day ?? 'utc' },
      ...settings,
      options: options.data as Record<string, string | undefined>,
      timeouts: { attemptMs: attemptMs ?? env.PROVIDER_TIMEOUT_MS, firstTokenMs: firstTokenTimeoutMs ?? env.FIRST_TOKEN_TIMEOUT_MS },
    });
  }
  return providers;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** What to do about API_KEYS, which npm start cannot go without: its format and how to make a key. */
export const API_KEYS_HINT =
  `(the comma-separated keys clients will send; make one with: node -p "require('node:crypto').randomBytes(24).toString('base64url')"; ` +
  'or list clients in a KEYS_FILE instead; or run npm run dev to try the gateway with its development key)';

/** Validates the environment; throws one ConfigError naming every bad variable. */
export function loadConfig(source: Record<string, string | undefined>): Config {
  // Empty or blank values mean "unset", so that `PORT=` in .env falls back to the default (a
  // blank number would otherwise read as 0).
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? 'environment');
      const message = !(variable in cleaned) && issue.code === 'invalid_type' ? 'is required' : issue.message;
      return `${variable} ${message}${variable === 'API_KEYS' ? ` ${API_KEYS_HINT}` : ''}`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}
