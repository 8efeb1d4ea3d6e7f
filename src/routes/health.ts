// GET /health: public; says honestly which providers can answer right now.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../config.ts';
import type { Preflight, PreflightResult } from '../gateway/preflight.ts';
import { errorResponseSchema } from '../schemas/error.ts';
import { healthResponseSchema, livenessResponseSchema, readinessResponseSchema } from '../schemas/health.ts';

export interface HealthRouteOptions {
  config: Config;
  version: string;
  /** Undefined when PREFLIGHT_INTERVAL_MS is 0. */
  preflight?: Preflight | undefined;
}

/** A check's result as /health shows it: outcomes and model names, never a key or a provider's message. */
function preflightView(result: PreflightResult) {
  const { freeTier } = result;
  return {
    outcome: result.outcome,
    checked_at: new Date(result.checkedAt).toISOString(),
    skipped_until_next_check: result.parked,
    ...(result.detail !== undefined && { detail: result.detail }),
    ...(result.missing !== undefined && { missing_models: result.missing.map(({ model, use, nearest }) => ({ model, use, nearest })) }),
    ...(freeTier !== undefined && {
      free_tier: {
        ...(freeTier.isFreeTier !== undefined && { is_free_tier: freeTier.isFreeTier }),
        ...(freeTier.dailyRequestsLimit !== undefined && { daily_requests_limit: freeTier.dailyRequestsLimit }),
        ...(freeTier.dailyRequestsRemaining !== undefined && { daily_requests_remaining: freeTier.dailyRequestsRemaining }),
      },
    }),
  };
}

const healthRoute: FastifyPluginAsyncZod<HealthRouteOptions> = async (app, { config, version, preflight }) => {
  const startedAt = Date.now();
  const { breakers: health, providers } = app.gateway;
  const configured = new Set(providers.map((p) => p.name));
  // Every provider the gateway knows: the built-in ones, configured or not, then the operator's own.
  const known = [...config.providers.values()];

  const draining = errorResponseSchema.describe('shutting_down: the gateway is draining');

  // For probes: the status alone says it. While draining, every route, these too, answers 503.
  app.get(
    '/health/live',
    { schema: { tags: ['operations'], summary: 'Liveness: the process answers', response: { 200: livenessResponseSchema, 503: draining } } },
    async () => ({ status: 'ok' }) as const,
  );

  // The configuration was loaded before this route existed; draining is refused before it runs.
  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: not draining, and at least one provider usable',
        response: { 200: readinessResponseSchema, 503: z.union([readinessResponseSchema, draining]).describe('not_ready: no provider is usable now (see /health); or shutting_down') },
      },
    },
    async (_request, reply) => {
      const usable = app.gateway.usableProviders().map((p) => p.name);
      if (usable.length === 0) reply.code(503);
      const { redis } = app.sharedState;
      const shared = redis === undefined ? {} : { shared_state: redis.available ? ('redis' as const) : ('local_fallback' as const) };
      return { status: usable.length > 0 ? 'ready' : 'not_ready', usable_providers: usable, ...shared } as const;
    },
  );

  app.get(
    '/health',
    {
      schema: { tags: ['operations'], summary: 'Liveness and provider readiness', response: { 200: healthResponseSchema, 503: draining } },
    },
    async () => {
      const windows = new Map(await Promise.all(providers.map(async (p) => [p.name, (await app.gateway.quotas?.view(p)) ?? []] as const)));
      const list = known.map(({ name, model, embeddingModel }) => {
        if (!configured.has(name)) {
          return { name, configured: false, model, state: 'not_configured' as const, consecutive_failures: 0 };
        }
        const snap = health.snapshot(name);
        const quota = (windows.get(name) ?? []).map((w) => ({ window: w.window, limit: w.limit, remaining: w.remaining, reset: new Date(w.resetAt).toISOString() }));
        // A spent window keeps a ready provider out of the cascade until it resets.
        const spent = quota.filter((w) => w.remaining === 0).map((w) => w.reset).sort().at(-1);
        const state = snap.state === 'ready' && spent !== undefined ? ('quota_exhausted' as const) : snap.state;
        // /health is public: it names only models the operator configured. Exact models a caller
        // asked for ("provider/model-id") are counted, never named (the metrics have them by model).
        const configuredModels = new Set([model, ...(embeddingModel === undefined ? [] : [embeddingModel])]);
        const cooling = health.coolingModels(name);
        const coolingModels = cooling
          .filter((m) => configuredModels.has(m.model))
          .map((m) => ({ model: m.model, cooldown_until: new Date(m.cooldownUntil).toISOString(), cooldown_reason: m.reason }));
        const otherCooling = cooling.length - coolingModels.length;
        const checked = preflight?.result(name);
        return {
          name,
          configured: true,
          model,
          state,
          ...(snap.cooldownUntil ? { cooldown_until: new Date(snap.cooldownUntil).toISOString() } : {}),
          ...(spent === undefined ? {} : { quota_exhausted_until: spent }),
          ...(quota.length > 0 ? { quota } : {}),
          ...(snap.reason ? { cooldown_reason: snap.reason } : {}),
          consecutive_failures: snap.consecutiveFailures,
          ...(coolingModels.length > 0 ? { cooling_models: coolingModels } : {}),
          ...(otherCooling > 0 ? { other_models_cooling: otherCooling } : {}),
          ...(checked ? { preflight: preflightView(checked) } : {}),
        };
      });
      const usable = list.filter((p) => p.configured);
      const ready = usable.filter((p) => p.state === 'ready').length;
      const status = ready === 0 ? 'unavailable' : ready === usable.length ? 'ok' : 'degraded';
      return {
        status,
        version,
        uptime_s: Math.floor((Date.now() - startedAt) / 1000),
        simulated: config.simulated,
        providers: list,
      } as const;
    },
  );
};

export default healthRoute;
