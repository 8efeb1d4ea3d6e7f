// Benchmark settings: command-line flags first, then BENCH_* environment variables, then the
// defaults (a full run takes a few minutes; --quick or BENCH_QUICK=1 about one).
import { parseArgs } from 'node:util';
import type { BenchProvider } from './processes.ts';

/** How bench/gateway-variant.ts can take the provider apart (see there). */
export const VARIANTS = ['framework', 'sdk-in-memory', 'sdk-fetch', 'undici', 'http'] as const;
export type Variant = (typeof VARIANTS)[number];

export const ROUTES = ['query', 'chat'] as const;
export type BenchRoute = (typeof ROUTES)[number];

export interface BenchOptions {
  quick: boolean;
  /** Seconds per round per target. */
  duration: number;
  rounds: number;
  connections: number[];
  /** Seconds of unmeasured load per target before each connection count. */
  warmup: number;
  /** Fake upstream delay before answering, in ms. */
  delayMs: number;
  provider: BenchProvider;
  /** The gateway route the load rounds call: POST /query, or POST /v1/chat/completions (not streamed). */
  route: BenchRoute;
  targets: Array<'direct' | 'proxy' | 'gateway'>;
  /** Streamed requests per target; 0 skips the streaming measurement. */
  streamRequests: number;
  /** Unmeasured streams per target before the measured ones (25 at a time). */
  streamWarmup: number;
  /** Pause between the fake's stream events, in ms. */
  streamGapMs: number;
  /** Run the gateway under --cpu-prof and summarise the profile. */
  profile: boolean;
  /** Extra node flags for the gateway process, e.g. --max-semi-space-size=8. */
  gatewayFlags: string[];
  /** Another checkout of this project, run the same way as a fourth target ("baseline"). */
  baselineDir: string | undefined;
  /** Node flags for the baseline process (default: the gateway's). */
  baselineFlags: string[];
  /** bench/gateway-variant.ts variants for the gateway and the baseline, instead of src/server.ts. */
  variant: Variant | undefined;
  baselineVariant: Variant | undefined;
}

export const USAGE = `npm run bench -- [flags]       (each flag also reads from the BENCH_* variable shown)
  --quick                 BENCH_QUICK=1          short run (about 1 minute): 2 rounds x 1.5 s
  --duration <s>          BENCH_DURATION         seconds per round per target (default 4; quick 1.5)
  --rounds <n>            BENCH_ROUNDS           rounds per connection count (default 5; quick 2)
  --connections <list>    BENCH_CONNECTIONS      comma-separated (default 1,10,50)
  --warmup <s>            BENCH_WARMUP           unmeasured seconds per target per count (default 1; quick 0.5)
  --delay <ms>            BENCH_DELAY_MS         fake upstream delay before answering (default 0)
  --provider <name>       BENCH_PROVIDER         openrouter or groq (Chat Completions), or gemini
                                                 (default openrouter)
  --route <name>          BENCH_ROUTE            the gateway route under load: query (POST /query) or chat
                                                 (POST /v1/chat/completions, not streamed) (default query)
  --targets <list>        BENCH_TARGETS          any of direct,proxy,gateway (default all)
  --stream-requests <n>   BENCH_STREAM_REQUESTS  streamed requests per target, 0 to skip (default 200; quick 50)
  --stream-warmup <n>     BENCH_STREAM_WARMUP    unmeasured streams per target first, 25 at a time, so V8 has optimised
                                                 the route as in service (default 3000; quick 500)
  --stream-gap <ms>       BENCH_STREAM_GAP_MS    pause between the fake's stream events (default 2)
  --profile               BENCH_PROFILE=1        run the gateway under --cpu-prof, then summarise the profile
  --gateway-flags=<flags> BENCH_GATEWAY_FLAGS    node flags for the gateway, e.g. --gateway-flags=--max-semi-space-size=8
  --baseline-dir <path>   BENCH_BASELINE_DIR     another checkout (with node_modules) to load the same way, as "baseline";
                                                 "." compares this checkout with itself, under other flags
  --baseline-flags=<f>    BENCH_BASELINE_FLAGS   node flags for the baseline (default: the gateway's)
  --variant <name>        BENCH_VARIANT          run the gateway with another way of calling upstream (openrouter only):
                                                 framework, sdk-in-memory, sdk-fetch, undici or http
                                                 (see bench/gateway-variant.ts)
  --baseline-variant <n>  BENCH_BASELINE_VARIANT the same for the baseline (and --baseline-dir defaults to ".");
                                                 variants always run this checkout's code
  --help`;

const TARGETS = ['direct', 'proxy', 'gateway'] as const;

function number(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got "${raw}"`);
  return value;
}

function variantOf(raw: string | undefined): Variant | undefined {
  if (raw === undefined) return undefined;
  if (!(VARIANTS as readonly string[]).includes(raw)) throw new Error(`variant must be one of ${VARIANTS.join(', ')}, got "${raw}"`);
  return raw as Variant;
}

const flags = (raw: string | undefined) => (raw ?? '').split(/\s+/).filter(Boolean);

const truthy = (raw: string | undefined) => raw !== undefined && ['1', 'true', 'yes', 'on'].includes(raw.toLowerCase());

export function readOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      warmup: { type: 'string' },
      delay: { type: 'string' },
      provider: { type: 'string' },
      route: { type: 'string' },
      targets: { type: 'string' },
      'stream-requests': { type: 'string' },
      'stream-warmup': { type: 'string' },
      'stream-gap': { type: 'string' },
      profile: { type: 'boolean' },
      'gateway-flags': { type: 'string' },
      'baseline-dir': { type: 'string' },
      'baseline-flags': { type: 'string' },
      variant: { type: 'string' },
      'baseline-variant': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick ?? truthy(env.BENCH_QUICK);
  // "none" (or an empty list) skips the load rounds, e.g. to measure streaming alone.
  const connections = (values.connections ?? env.BENCH_CONNECTIONS ?? '1,10,50')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '' && part !== 'none')
    .map((part) => number('connections', part, 0, 1));
  const provider = values.provider ?? env.BENCH_PROVIDER ?? 'openrouter';
  if (provider !== 'openrouter' && provider !== 'groq' && provider !== 'gemini') {
    throw new Error(`provider must be openrouter, groq or gemini, got "${provider}"`);
  }
  const route = values.route ?? env.BENCH_ROUTE ?? 'query';
  if (!(ROUTES as readonly string[]).includes(route)) throw new Error(`route must be one of ${ROUTES.join(', ')}, got "${route}"`);
  const targets = (values.targets ?? env.BENCH_TARGETS ?? TARGETS.join(','))
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  for (const target of targets) {
    if (!(TARGETS as readonly string[]).includes(target)) throw new Error(`unknown target "${target}"`);
  }
  const variant = variantOf(values.variant ?? (env.BENCH_VARIANT || undefined));
  const baselineVariant = variantOf(values['baseline-variant'] ?? (env.BENCH_BASELINE_VARIANT || undefined));
  if ((variant ?? baselineVariant) !== undefined && provider !== 'openrouter') throw new Error('--variant needs --provider openrouter');
  return {
    quick,
    duration: number('duration', values.duration ?? env.BENCH_DURATION, quick ? 1.5 : 4, 0.5),
    rounds: Math.round(number('rounds', values.rounds ?? env.BENCH_ROUNDS, quick ? 2 : 5, 1)),
    connections: connections.map((c) => Math.round(c)),
    warmup: number('warmup', values.warmup ?? env.BENCH_WARMUP, quick ? 0.5 : 1, 0),
    delayMs: number('delay', values.delay ?? env.BENCH_DELAY_MS, 0, 0),
    provider,
    route: route as BenchRoute,
    targets: targets as BenchOptions['targets'],
    streamRequests: Math.round(number('stream-requests', values['stream-requests'] ?? env.BENCH_STREAM_REQUESTS, quick ? 50 : 200, 0)),
    streamWarmup: Math.round(number('stream-warmup', values['stream-warmup'] ?? env.BENCH_STREAM_WARMUP, quick ? 500 : 3000, 0)),
    streamGapMs: number('stream-gap', values['stream-gap'] ?? env.BENCH_STREAM_GAP_MS, 2, 0),
    profile: values.profile ?? truthy(env.BENCH_PROFILE),
    gatewayFlags: flags(values['gateway-flags'] ?? env.BENCH_GATEWAY_FLAGS),
    baselineDir: values['baseline-dir'] ?? (env.BENCH_BASELINE_DIR || undefined) ?? (baselineVariant ? '.' : undefined),
    baselineFlags: flags(values['baseline-flags'] ?? env.BENCH_BASELINE_FLAGS ?? values['gateway-flags'] ?? env.BENCH_GATEWAY_FLAGS),
    variant,
    baselineVariant,
  };
}
