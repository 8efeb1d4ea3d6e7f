import { z } from 'zod';

export const healthResponseSchema = z
  .object({
    status: z
      .enum(['ok', 'degraded', 'unavailable'])
      .describe('ok: every configured provider is ready; degraded: some configured providers are cooling down or being probed; unavailable: none is configured or ready'),
    version: z.string(),
    uptime_s: z.int(),
    simulated: z.boolean().describe('True when the providers are the built-in simulators'),
    providers: z.array(
      z.object({
        name: z.string().describe('A built-in provider (gemini, groq, openrouter) or one named in EXTRA_PROVIDERS'),
        configured: z.boolean(),
        model: z.string(),
        state: z
          .enum(['ready', 'cooling_down', 'probing', 'not_configured'])
          .describe('probing: back from a cooldown, one request is trying it and the others skip it until that one ends'),
        cooldown_until: z.string().optional().describe('ISO time when a cooling provider is tried again'),
        cooldown_reason: z.string().optional(),
        consecutive_failures: z.int(),
        cooling_models: z
          .array(z.object({ model: z.string(), cooldown_until: z.string(), cooldown_reason: z.string() }))
          .optional()
          .describe('Exact models ("provider/model-id" calls) cooling down on their own; state is about the configured model'),
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
