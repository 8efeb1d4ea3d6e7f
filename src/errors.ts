// Every error the gateway can answer with, declared once: a stable code, an HTTP status and a
// message that is safe to show a client. Nothing else decides statuses.

export const ERROR_TABLE = {
  invalid_request: { status: 400, message: 'The request is invalid.' },
  content_filtered: { status: 400, message: 'The provider refused this request under its content policy.' },
  unauthorized: { status: 401, message: 'A valid API key is required: send it as "X-API-Key: <key>" or "Authorization: Bearer <key>".' },
  forbidden: { status: 403, message: 'This address may not read this route.' },
  forbidden_route: { status: 403, message: "This client's tier may not use this route." },
  forbidden_model: { status: 403, message: "This client's tier may not use this model." },
  not_found: { status: 404, message: 'No such route.' },
  method_not_allowed: { status: 405, message: 'This route does not serve that method; the Allow header lists those it does.' },
  model_not_found: { status: 404, message: 'No such model on this gateway; GET /v1/models lists them.' },
  request_timeout: { status: 408, message: 'The request was not received in time.' },
  payload_too_large: { status: 413, message: 'The request body is larger than 64 KiB.' },
  expectation_failed: { status: 417, message: 'The only Expect header this gateway meets is "100-continue".' },
  unsupported_media_type: { status: 415, message: 'The request body must be application/json.' },
  rate_limited: { status: 429, message: 'Rate limit exceeded for this API key.' },
  headers_too_large: { status: 431, message: 'The request headers are larger than 16 KiB.' },
  too_many_auth_failures: { status: 429, message: 'Too many failed authentication attempts.' },
  too_many_concurrent_requests: { status: 429, message: 'Too many requests in flight for this API key.' },
  quota_exceeded: { status: 429, message: "This client's tokens for the day are spent." },
  internal_error: { status: 500, message: 'Internal server error.' },
  providers_unavailable: { status: 503, message: 'No LLM provider could answer the request.' },
  shutting_down: { status: 503, message: 'The gateway is shutting down.' },
  upstream_timeout: { status: 504, message: 'The LLM providers did not answer in time.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

/**
 * Validation problems listed at most in `details`: a body of a thousand unknown fields must not
 * earn an answer several times its size. The message then says how many there were in all.
 */
export const MAX_DETAILS = 20;
/** A field name is the client's own text; a longer one comes back cut, ending in "…". */
export const MAX_FIELD_LENGTH = 100;

export interface FieldIssue {
  field: string;
  message: string;
}

export interface GatewayErrorOptions {
  message?: string;
  details?: FieldIssue[];
  /** Seconds, sent as Retry-After. */
  retryAfterSeconds?: number;
  /** OpenAI-style `param` for /v1 errors. */
  param?: string;
  /** The methods the route serves, sent as Allow (with a 405). */
  allow?: readonly string[];
  cause?: unknown;
}

export class GatewayError extends Error {
  override name = 'GatewayError';
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: FieldIssue[] | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly param: string | undefined;
  readonly allow: readonly string[] | undefined;

  constructor(code: ErrorCode, options: GatewayErrorOptions = {}) {
    super(options.message ?? ERROR_TABLE[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.statusCode = ERROR_TABLE[code].status;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.param = options.param;
    this.allow = options.allow;
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; request_id: string; details?: FieldIssue[] };
}

export function errorBody(error: GatewayError, requestId: string): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      request_id: requestId,
      ...(error.details ? { details: error.details } : {}),
    },
  };
}

/** The OpenAI error `type` for a status, so OpenAI SDKs raise their usual classes. */
function openAiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return status === 500 ? 'server_error' : 'service_unavailable_error';
  return 'invalid_request_error';
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; code: ErrorCode; param: string | null; request_id: string };
}

export function openAiErrorBody(error: GatewayError, requestId: string): OpenAiErrorBody {
  const firstIssue = error.details?.[0];
  const message = firstIssue ? `${error.message} ${firstIssue.field}: ${firstIssue.message}` : error.message;
  return {
    error: {
      message,
      type: openAiType(error.statusCode),
      code: error.code,
      param: error.param ?? firstIssue?.field ?? null,
      request_id: requestId,
    },
  };
}
