import { z } from 'zod';

const preflightSchema = z.object({
  outcome: z
    .enum(['ok', 'key_rejected', 'model_missing', 'unreachable', 'unknown'])
    .describe(
      'ok: the key works and the configured models are listed; key_rejected: the provider refused the key; model_missing: a configured model is not listed; unreachable: no answer within 3 s; unknown: the answer could not tell (docs/operations.md)',
    ),
  checked_at: z.string().describe('ISO time the check ended'),
  skipped_until_next_check: z.boolean().describe('True when a refused key or a missing chat model keeps the provider out of the cascade until the next check (state cooling_down)'),
  detail: z.string().optional().describe('A few words on what failed (an HTTP status, "connection failed"); never the provider\'s message'),
  missing_models: z
    .array(
      z.object({
        model: z.string().describe('The configured model'),
        use: z.enum(['chat', 'embeddings']),
        nearest: z.array(z.string()).describe('Up to 3 listed models nearest to it'),
      }),
    )
    .optional(),
  free_tier: z
    .object({
      is_free_tier: z.boolean().optional(),
      daily_requests_limit: z.int().optional().describe('Free-model requests a day (UTC)'),
      daily_requests_remaining: z.int().optional(),
    })
    .optional()
    .describe('OpenRouter: the key\'s free-tier status and free-model requests left today'),
});

export const healthResponseSchema = z
  .object({
    status: z
      .enum(['ok', 'degraded', 'unavailable'])
      .describe('ok: every configured provider is ready; degraded: some configured providers are cooling down, being probed or out of quota; unavailable: none is configured or ready'),
    version: z.string(),
    uptime_s: z.int(),
    simulated: z.boolean().describe('True when the providers are the built-in simulators'),
    providers: z.array(
      z.object({
        name: z.string().describe('A built-in provider (gemini, groq, openrouter) or one named in EXTRA_PROVIDERS'),
        configured: z.boolean(),
        model: z.string(),
        state: z
          .enum(['ready', 'cooling_down', 'probing', 'quota_exhausted', 'not_configured'])
          .describe(
            'probing: back from a cooldown, one request is trying it and the others skip it until that one ends; quota_exhausted: a known quota window of its configured model is spent, and requests skip it until quota_exhausted_until',
          ),
        cooldown_until: z.string().optional().describe('ISO time when a cooling provider is tried again'),
        cooldown_reason: z.string().optional(),
        quota_exhausted_until: z.string().optional().describe('ISO time when the last spent quota window resets'),
        quota: z
          .array(
            z.object({
              window: z.enum(['rpm', 'rpd', 'tpm', 'tpd']).describe('requests per minute, requests per day, tokens per minute, tokens per day'),
              limit: z.int(),
              remaining: z.int().describe('What is left, as the gateway counts it (requests in flight included), corrected by what the provider says'),
              reset: z.string().describe('ISO time when the window starts again'),
            }),
          )
          .optional()
          .describe('Each quota window of the configured model with a known limit (<NAME>_LIMITS, the published free-tier figures, or what the provider said)'),
        consecutive_failures: z.int(),
        cooling_models: z
          .array(z.object({ model: z.string(), cooldown_until: z.string(), cooldown_reason: z.string() }))
          .optional()
          .describe('Configured models cooling down on their own (an exact "provider/model-id" call for one); state is about the configured chat model'),
        other_models_cooling: z
          .int()
          .optional()
          .describe('How many other exact models callers asked for are cooling down; public, so they are counted, not named'),
        preflight: preflightSchema.optional().describe('The last start-up check of the key and models; absent before the first one ends, or with PREFLIGHT_INTERVAL_MS=0'),
      }),
    ),
  })
  .describe('Health');

export const livenessResponseSchema = z.object({ status: z.literal('ok') }).describe('Liveness');

export const readinessResponseSchema = z
  .object({
    status: z.enum(['ready', 'not_ready']).describe('ready: the configuration is loaded, the gateway is not draining and at least one provider is usable'),
    usable_providers: z.array(z.string()).describe('Configured providers whose breaker is ready now'),
    shared_state: z
      .enum(['redis', 'local_fallback'])
      .optional()
      .describe('With REDIS_URL only: redis while limits, quotas and cooldowns are shared; local_fallback while Redis is unreachable and each replica counts on its own (still ready: it keeps serving)'),
  })
  .describe('Readiness');
