// The values a metric label may take. Each comes from the configuration or from a fixed list,
// never from what a client sent: a model a caller names that is not configured is "other", an
// unknown route is "unmatched", an unusual method is "_OTHER". So no request can add a series.
import type { FastifyRequest } from 'fastify';
import type { Provider } from '../providers/types.ts';

/** What a label reads when the value is not one this gateway was configured with. */
export const OTHER = 'other';

/** A request that matched no route (a 404, or an error raised before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * OpenTelemetry's well-known `gen_ai.provider.name` values where one applies (Gemini's API at
 * generativelanguage.googleapis.com is `gcp.gemini`); any other provider keeps its configured name.
 */
const WELL_KNOWN_PROVIDERS: Readonly<Record<string, string>> = { gemini: 'gcp.gemini', groq: 'groq' };

export const providerLabel = (name: string): string => WELL_KNOWN_PROVIDERS[name] ?? name;

/** A model this provider is configured with, or OTHER: a caller's "provider/model-id" adds no series. */
export function modelLabel(provider: Provider, model: string | undefined): string {
  if (model === undefined) return provider.model;
  return model === provider.model || model === provider.embeddingModel ? model : OTHER;
}

// OpenTelemetry's HTTP conventions: the well-known methods, anything else "_OTHER".
const METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);

export const methodLabel = (method: string): string => (METHODS.has(method) ? method : '_OTHER');

/** The route's template as declared in the code ("/v1/models"), never the URL the client sent. */
export function routeLabel(request: FastifyRequest): string {
  if (request.is404) return UNMATCHED_ROUTE;
  const route = request.routeOptions.url;
  // A catch-all such as CORS's preflight ('*') is declared by us too; a request refused before
  // routing has none.
  return route === undefined || route === '' ? UNMATCHED_ROUTE : route;
}
