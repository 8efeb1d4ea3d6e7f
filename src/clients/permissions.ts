// What a client's policy allows: which routes, and which providers and models. A model entry is a
// provider ("groq": any model on it), one model ("groq/llama-3.3-70b-versatile"), or every model
// of a provider written "groq/*".
import { GatewayError } from '../errors.ts';
import type { ModelRoute } from '../gateway/model-routing.ts';
import type { Provider } from '../providers/types.ts';
import type { Policy } from './keys-file.ts';

export function checkRoute(policy: Policy, route: string | undefined): void {
  if (policy.routes === undefined || (route !== undefined && policy.routes.has(route))) return;
  throw new GatewayError('forbidden_route', {
    message: `This client's tier (${policy.tier}) may not use ${route ?? 'this route'}; it may use ${[...policy.routes].join(', ') || 'no route'}.`,
  });
}

const allows = (models: readonly string[], provider: string, model: string): boolean =>
  models.some((entry) => entry === provider || entry === `${provider}/*` || entry === `${provider}/${model}`);

/**
 * The route narrowed to what the policy allows: an exact model it does not list, or a cascade
 * left with no provider, is refused with 403.
 */
export function permittedRoute<P extends Provider>(policy: Policy, route: ModelRoute<P>, modelOf: (p: P) => string = (p) => p.model): ModelRoute<P> {
  const { models } = policy;
  if (models === undefined) return route;
  const providers = route.providers.filter((p) => allows(models, p.name, route.exactModel ?? modelOf(p)));
  if (providers.length === route.providers.length) return route;
  if (providers.length === 0) {
    throw new GatewayError('forbidden_model', {
      message: `This client's tier (${policy.tier}) may not use this model; it may use ${models.join(', ')}.`,
      param: 'model',
    });
  }
  return { ...route, providers };
}
