// What an OpenAI-style `model` means here, and how a failure of that route reads to the caller.
//   "auto" (or none)        the cascade over the configured providers in PROVIDER_ORDER
//   "groq"                  the cascade, starting at that provider, then the rest in order
//   "groq/llama-3.3-70b…"   that model on that provider only (split on the first "/"), no fallback
import { isSafeModelId } from '../config-fields.ts';
import { BUILT_IN_NAMES } from '../providers/registry.ts';
import type { AttemptCall, AttemptRecord } from '../cascade/cascade.ts';
import { GatewayError } from '../errors.ts';
import { ProviderError } from '../providers/provider-error.ts';
import type { Provider } from '../providers/types.ts';

export const AUTO_MODEL = 'auto';

export interface ModelRoute<P extends Provider = Provider> {
  /** The providers to try, in order. */
  providers: P[];
  /** Set for "provider/model-id": the model to ask for, with no fallback. */
  exactModel?: string;
  /** Set once that provider has said it has no such model. */
  modelNotFound?: boolean;
}


/**
 * Resolves `model` against the configured providers (already in PROVIDER_ORDER). `capability`
 * names what the providers were filtered for ("embeddings"), for the error message.
 */
export function resolveModel<P extends Provider>(model: string | null | undefined, providers: readonly P[], capability?: string): ModelRoute<P> {
  if (model === undefined || model === null || model === AUTO_MODEL) return { providers: [...providers] };
  const slash = model.indexOf('/');
  const name = slash === -1 ? model : model.slice(0, slash);
  const provider = providers.find((p) => p.name === name);
  if (!provider) throw notServed(name, capability);
  if (slash === -1) return { providers: [provider, ...providers.filter((p) => p !== provider)] };

  const id = model.slice(slash + 1);
  // Gemini's id goes into the request path as "models/{id}": a caller's may not name another
  // resource, except the ones this gateway is configured with (GET /v1/models lists them).
  const configured = id === provider.model || id === provider.embeddingModel;
  // A ':' there would name another method ("x:countTokens"), so Gemini ids have none.
  const unsafe = !isSafeModelId(id) || (provider.name === 'gemini' && /[/:]/.test(id) && !configured);
  if (unsafe) {
    throw new GatewayError('invalid_request', {
      message: 'The model id is not valid: use "provider/model-id" with letters, digits and . _ : @ + - / (for Gemini: no : or /).',
      param: 'model',
    });
  }
  return { providers: [provider], exactModel: id };
}

function notServed(name: string, capability: string | undefined): GatewayError {
  const known = BUILT_IN_NAMES.includes(name);
  const message = !known
    ? 'No such model on this gateway. Use "auto", a provider name or "provider/model-id"; GET /v1/models lists them.'
    : capability
      ? `Provider ${name} does not serve ${capability} on this gateway; GET /v1/models lists what does.`
      : `Provider ${name} is not configured on this gateway; GET /v1/models lists the models it serves.`;
  return new GatewayError('model_not_found', { message, param: 'model' });
}

/** Upstream statuses that, for an exact model, are about that model rather than the provider. */
const MODEL_REFUSALS = new Set([402, 403, 404]);

/**
 * For an exact model, an upstream 404 means the caller asked for a model the provider does not
 * have, and a 402 or 403 one this account may not use (a paid model on a free account): the
 * request's fault, not the provider's, so it must not cool the provider down for everyone (the
 * cascade ignores 'rejected' failures when it keeps health). A bad key (401) still does.
 */
export function exactModelCall<T>(route: ModelRoute, call: AttemptCall<T>): AttemptCall<T> {
  if (route.exactModel === undefined) return call;
  return async (provider, signal, liveness) => {
    try {
      return await call(provider, signal, liveness);
    } catch (error) {
      // Not a 402 that says when to come back (OpenRouter's in-flight budget): that is a wait.
      const refused = error instanceof ProviderError && error.kind === 'misconfigured' && error.status !== undefined;
      if (refused && (error.modelNotFound || MODEL_REFUSALS.has(error.status ?? 0))) {
        const unknown = error.modelNotFound || error.status === 404;
        if (unknown) route.modelNotFound = true;
        const why = unknown ? 'does not serve' : 'refused';
        throw new ProviderError(provider.name, 'rejected', `${provider.name} ${why} the requested model`, { status: error.status, cause: error });
      }
      throw error;
    }
  };
}

/**
 * The caller's error for a failed cascade. With an exact model there was one provider to ask;
 * when it refused the request itself, say so (404 for an unknown model, 400 otherwise) instead of
 * a 503 that invites a retry.
 */
export function routeFailure(route: ModelRoute, attempts: readonly AttemptRecord[], error: unknown): unknown {
  if (route.exactModel === undefined) return error;
  // A content refusal is told as it is, exact model or not.
  if (error instanceof GatewayError && error.code === 'content_filtered') return error;
  const last = attempts.at(-1);
  if (last?.outcome !== 'rejected') return error;
  if (last.status === 404 || route.modelNotFound === true) {
    return new GatewayError('model_not_found', {
      message: `Provider ${last.provider} does not serve that model; GET /v1/models lists the configured ones.`,
      param: 'model',
    });
  }
  return new GatewayError('invalid_request', {
    message: `Provider ${last.provider} refused this request for that model${last.status ? ` (HTTP ${last.status})` : ''}.`,
  });
}
