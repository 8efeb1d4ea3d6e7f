// The one place that reads the environment. Everything else receives a validated Config.
import { isIP } from 'node:net';
import { z } from 'zod';

export const PROVIDER_NAMES = ['gemini', 'groq', 'openrouter'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

const int = (min: number, max: number) => {
  const error = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const TRUTHY = ['true', '1', 'yes', 'on'];
const FALSY = ['false', '0', 'no', 'off', ''];
const bool = z.stringbool({ truthy: TRUTHY, falsy: FALSY });
// Provider keys and OpenRouter's attribution values travel in request headers. Node refuses a
// header value with anything but tab, visible ASCII and Latin-1, and would then fail every call
// to that provider as if it were down; refused here instead, at start, naming the variable.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const headerValue = z
  .string()
  .trim()
  .regex(HEADER_VALUE, 'may hold only characters allowed in an HTTP header (no line breaks or control characters, Latin-1 at most)');
const optionalSecret = headerValue
  .optional()
  .transform((v) => (v ? v : undefined));
// The gateway appends each API path to a base URL, so a query or fragment would swallow it, and
// credentials in it would be dropped without a word.
const url = z.url({ protocol: /^https?$/ }).refine((value) => {
  const parsed = URL.parse(value);
  // Not a URL at all is z.url()'s to report.
  return parsed === null || (parsed.search === '' && parsed.hash === '' && parsed.username === '' && parsed.password === '');
}, 'must be a plain http(s) URL: no query, fragment or user:password');

/** An address to listen on: an IP address or a host name (which must resolve on this machine). */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const host = z
  .string()
  .trim()
  .refine((value) => isIP(value) !== 0 || HOST_NAME.test(value), 'must be an IP address (0.0.0.0, 127.0.0.1, ::) or a host name');

/**
 * A model id as providers spell them ("meta-llama/llama-3.3-70b-instruct:free"). Ids go into
 * request bodies and, for Gemini, into the request path; ".." segments are refused everywhere.
 */
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._:@+/-]*$/;
export const isSafeModelId = (id: string): boolean => MODEL_ID.test(id) && !id.split('/').includes('..');
// A configured id may name a Gemini resource ("tunedModels/x"); a caller's may not (model-routing.ts).
const modelId = (fallback: string) =>
  z
    .string()
    .trim()
    .refine(isSafeModelId, 'must be a model id: a letter or digit, then letters, digits and . _ : @ + - / (no ".." segments)')
    .default(fallback);

const commaList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  );

const providerOrder = commaList.pipe(
  z
    .array(z.enum(PROVIDER_NAMES))
    .min(1)
    .refine((list) => new Set(list).size === list.length, 'must not repeat a provider'),
);

/** The names proxy-addr (Fastify's trustProxy) knows for address ranges. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const isAddressOrRange = (entry: string): boolean => {
  if (PROXY_RANGE_NAMES.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
};

/**
 * Whose X-Forwarded-For to believe: every hop (yes; then a client can name its own address), none
 * (no), or only proxies at these addresses and ranges, so the client's address is the first one a
 * trusted proxy wrote and anything a client put before it is ignored. (Fastify no longer takes a
 * hop count: it cannot tell a proxy from a client connecting directly.)
 */
const trustProxy = z
  .string()
  .trim()
  .transform((value, ctx): boolean | string[] => {
    const word = value.toLowerCase();
    if (TRUTHY.includes(word)) return true;
    if (FALSY.includes(word)) return false;
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry.length > 0);
    if (entries.length > 0 && entries.every(isAddressOrRange)) return entries;
    ctx.addIssue({
      code: 'custom',
      message: 'must be true, false, or a comma-separated list of proxy addresses and CIDR ranges (or loopback, linklocal, uniquelocal)',
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

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const envSchema = z
  .object({
    API_KEYS: commaList.pipe(z.array(z.string().min(1)).min(1, 'must list at least one client key')),
    PORT: int(0, 65535).default(7860),
    HOST: host.default('0.0.0.0'),
    RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(10),
    AUTH_FAILURES_PER_MINUTE: int(1, 1_000_000).default(20),

    GEMINI_API_KEY: optionalSecret,
    GROQ_API_KEY: optionalSecret,
    OPENROUTER_API_KEY: optionalSecret,
    GEMINI_MODEL: modelId('gemini-flash-lite-latest'),
    GEMINI_EMBEDDING_MODEL: modelId('gemini-embedding-001'),
    GROQ_MODEL: modelId('llama-3.1-8b-instant'),
    OPENROUTER_MODEL: modelId('openrouter/free'),
    GEMINI_BASE_URL: url.default('https://generativelanguage.googleapis.com'),
    GROQ_BASE_URL: url.default('https://api.groq.com'),
    OPENROUTER_BASE_URL: url.default('https://openrouter.ai/api/v1'),
    OPENROUTER_APP_URL: headerValue.optional(),
    OPENROUTER_APP_TITLE: headerValue.default('secure-llm-router'),
    PROVIDER_ORDER: providerOrder.default(['gemini', 'groq', 'openrouter']),

    PROVIDER_TIMEOUT_MS: int(50, 600_000).default(5000),
    REQUEST_TIMEOUT_MS: int(50, 600_000).default(10_000),
    FIRST_TOKEN_TIMEOUT_MS: int(50, 600_000).default(4000),
    MAX_RETRIES: int(0, 10).default(1),
    CIRCUIT_BREAKER_THRESHOLD: int(1, 1000).default(3),
    CIRCUIT_BREAKER_COOLDOWN_MS: int(0, 3_600_000).default(30_000),
    SHUTDOWN_GRACE_MS: int(0, 600_000).default(8_000),

    TRUST_PROXY: trustProxy.default(false),
    CORS_ORIGINS: corsOrigins.default([]),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
    SIMULATED_PROVIDERS: bool.default(false),
    SIMULATED_FAULTS: z.string().default(''),
  })
  .refine((env) => env.PROVIDER_TIMEOUT_MS <= env.REQUEST_TIMEOUT_MS, {
    path: ['PROVIDER_TIMEOUT_MS'],
    message: 'must not exceed REQUEST_TIMEOUT_MS',
  });

type Env = z.output<typeof envSchema>;

export interface ProviderSettings {
  name: ProviderName;
  apiKey: string | undefined;
  model: string;
  baseUrl: string;
}

export interface Config {
  apiKeys: string[];
  port: number;
  host: string;
  rateLimitPerMinute: number;
  authFailuresPerMinute: number;
  providerOrder: ProviderName[];
  providers: Record<ProviderName, ProviderSettings>;
  geminiEmbeddingModel: string;
  openrouterAppUrl: string | undefined;
  openrouterAppTitle: string;
  providerTimeoutMs: number;
  requestTimeoutMs: number;
  firstTokenTimeoutMs: number;
  maxRetries: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
  shutdownGraceMs: number;
  /** Fastify's trustProxy: every hop, none, or the proxies' addresses and ranges. */
  trustProxy: boolean | string[];
  /** Origins whose pages may call the gateway ("*": any); empty: no CORS headers at all. */
  corsOrigins: '*' | string[];
  logLevel: (typeof LOG_LEVELS)[number];
  simulated: boolean;
  simulatedFaults: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** What to do about API_KEYS, which npm start cannot go without: its format and how to make a key. */
export const API_KEYS_HINT =
  `(the comma-separated keys clients will send; make one with: node -p "require('node:crypto').randomBytes(24).toString('base64url')"; ` +
  'or run npm run dev to try the gateway with its development key)';

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
  return toConfig(parsed.data);
}

function toConfig(env: Env): Config {
  return {
    apiKeys: env.API_KEYS,
    port: env.PORT,
    host: env.HOST,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: env.AUTH_FAILURES_PER_MINUTE,
    providerOrder: env.PROVIDER_ORDER,
    providers: {
      gemini: { name: 'gemini', apiKey: env.GEMINI_API_KEY, model: env.GEMINI_MODEL, baseUrl: env.GEMINI_BASE_URL },
      groq: { name: 'groq', apiKey: env.GROQ_API_KEY, model: env.GROQ_MODEL, baseUrl: env.GROQ_BASE_URL },
      openrouter: {
        name: 'openrouter',
        apiKey: env.OPENROUTER_API_KEY,
        model: env.OPENROUTER_MODEL,
        baseUrl: env.OPENROUTER_BASE_URL,
      },
    },
    geminiEmbeddingModel: env.GEMINI_EMBEDDING_MODEL,
    openrouterAppUrl: env.OPENROUTER_APP_URL,
    openrouterAppTitle: env.OPENROUTER_APP_TITLE,
    providerTimeoutMs: env.PROVIDER_TIMEOUT_MS,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    firstTokenTimeoutMs: env.FIRST_TOKEN_TIMEOUT_MS,
    maxRetries: env.MAX_RETRIES,
    breakerThreshold: env.CIRCUIT_BREAKER_THRESHOLD,
    breakerCooldownMs: env.CIRCUIT_BREAKER_COOLDOWN_MS,
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    trustProxy: env.TRUST_PROXY,
    corsOrigins: env.CORS_ORIGINS,
    logLevel: env.LOG_LEVEL,
    simulated: env.SIMULATED_PROVIDERS,
    simulatedFaults: env.SIMULATED_FAULTS,
  };
}
