// What the OpenAPI document says only when the operator turned it on: signed-in users' tokens
// (JWT_JWKS_URL) as a security scheme beside the keys, and the answer cache's request and response
// headers (CACHE_TTL_S) on the routes it serves.

export interface DocumentedFeatures {
  jwt: boolean;
  cache: boolean;
}

interface Operation {
  security?: Array<Record<string, string[]>>;
  parameters?: unknown[];
  responses?: Record<string, { headers?: Record<string, unknown> }>;
}

interface OpenApiDocument {
  components?: { securitySchemes?: Record<string, unknown> };
  paths?: Record<string, Record<string, Operation>>;
}

export const JWT_SCHEME = {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description:
    "A signed-in user's token from the identity provider at JWT_JWKS_URL (RS256, ES256 or EdDSA; iss, aud, sub and exp required). " +
    'The user, by its sub, is the client for limits and logs.',
};

/** The routes whose answers the cache keeps. */
const CACHED_ROUTES = new Set(['/query', '/v1/chat/completions']);

const CACHE_REQUEST_HEADER = {
  in: 'header',
  name: 'x-cache',
  required: false,
  schema: { type: 'string', enum: ['allow', 'bypass'] },
  description: 'allow: cache this answer even though temperature is not 0; bypass: neither read nor write the cache. Without it, only temperature 0 is cached.',
};
const CACHE_RESPONSE_HEADER = {
  description: 'HIT: the answer came from the cache, with no provider call. MISS: looked up, not found. Absent: the request was not cacheable.',
  schema: { type: 'string', enum: ['HIT', 'MISS'] },
};

export function addFeatures<T>(document: T, features: DocumentedFeatures): T {
  const doc = document as OpenApiDocument;
  if (features.jwt) {
    doc.components = { ...doc.components, securitySchemes: { ...doc.components?.securitySchemes, JwtAuth: JWT_SCHEME } };
  }
  for (const [path, operations] of Object.entries(doc.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      if (features.jwt && operation.security !== undefined) operation.security = [...operation.security, { JwtAuth: [] }];
      if (!features.cache || !CACHED_ROUTES.has(path)) continue;
      operation.parameters = [...(operation.parameters ?? []), CACHE_REQUEST_HEADER];
      const ok = operation.responses?.['200'];
      if (ok) ok.headers = { ...ok.headers, 'x-cache': CACHE_RESPONSE_HEADER };
    }
  }
  return document;
}
