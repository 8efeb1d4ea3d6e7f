// The one root error handler and the not-found handler. Every error leaves as the documented
// JSON body (OpenAI's shape under /v1) with the request id; a message is exposed only for
// statuses under 500, and causes go to the log, never to the client.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { errorBody, GatewayError, MAX_DETAILS, MAX_FIELD_LENGTH, openAiErrorBody, type FieldIssue } from '../errors.ts';
import { clientAddressKey, rateLimitedError } from './rate-limit.ts';
import { REQUEST_ID_HEADER } from './request-id.ts';

export interface UnknownRoutesOptions {
  /** Requests for unknown routes per client IP per minute before 429. */
  perMinute: number;
}

const FRAMEWORK_CODES: Record<string, GatewayError['code']> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_request',
};

const fieldIssue = (field: string, message: string): FieldIssue => ({
  field: field.length > MAX_FIELD_LENGTH ? `${field.slice(0, MAX_FIELD_LENGTH)}…` : field,
  message,
});

function validationError(error: FastifyError): GatewayError {
  const details: FieldIssue[] = [];
  let total = 0;
  const add = (field: string, message: string) => {
    total += 1;
    if (details.length < MAX_DETAILS) details.push(fieldIssue(field, message));
  };
  for (const issue of error.validation ?? []) {
    const path = (issue.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
    const keys = (issue.params as { keys?: unknown } | undefined)?.keys;
    // Unknown keys are reported on the object; name each offending key instead.
    if (issue.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
      for (const key of keys) add([path, String(key)].filter(Boolean).join('.'), 'is not an allowed field');
    } else {
      add(path || '(body)', issue.message ?? 'is invalid');
    }
  }
  const message =
    total > details.length
      ? `The request body is invalid: ${total} problems, the first ${details.length} listed in details.`
      : 'The request body is invalid.';
  return new GatewayError('invalid_request', { message, details });
}

/** Turns anything thrown into a GatewayError; unknown errors become a 500. */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const fastifyError = error as FastifyError;
  if (hasZodFastifySchemaValidationErrors(fastifyError)) {
    return validationError(fastifyError);
  }
  const mapped = fastifyError.code ? FRAMEWORK_CODES[fastifyError.code] : undefined;
  if (mapped === 'invalid_request' && fastifyError.code !== 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
    return new GatewayError('invalid_request', { message: 'The request body is not valid JSON.', cause: error });
  }
  if (mapped) return new GatewayError(mapped, { cause: error });
  if (error instanceof SyntaxError) return new GatewayError('invalid_request', { message: 'The request body is not valid JSON.' });
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new GatewayError('invalid_request', { cause: error });
  }
  return new GatewayError('internal_error', { cause: error });
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: GatewayError): FastifyReply {
  request.server.metrics.errorAnswered(error.code);
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
  if (error.allow !== undefined) reply.header('allow', error.allow.join(', '));
  // Refused before its body was read (a wrong key, a limit): the rest of it would otherwise be
  // read, unbounded, to keep the connection, and a slow one could earn a second answer (408).
  if (!request.raw.complete) reply.header('connection', 'close');
  reply.header('cache-control', 'no-store');
  // RFC 9110: a 401 names the scheme to use.
  if (error.code === 'unauthorized') reply.header('www-authenticate', 'Bearer');
  // The route that matched decides, not the raw URL: `/%761/models` and `http://host/v1/models`
  // reach /v1 routes too, and their response schemas accept only OpenAI's shape.
  // An unknown route, or a catch-all such as CORS's preflight ('*'), has no path of its own.
  const route = request.routeOptions.url;
  const openAi = (route?.startsWith('/') === true && !request.is404 ? route : targetPath(request.url)).startsWith('/v1/');
  return reply
    .code(error.statusCode)
    .type('application/json; charset=utf-8')
    .send(openAi ? openAiErrorBody(error, request.id) : errorBody(error, request.id));
}

/** The path of a request target, absolute-form (`http://host/v1/x`) included. */
function targetPath(target: string): string {
  return target.startsWith('/') ? target : (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(\/[^?#]*)?/i.exec(target)?.[1] ?? target);
}

/**
 * A cascade that tried providers and got no answer has said so already: a line for each failed
 * attempt, and the summary line with the status and every attempt. Another line would only repeat it.
 */
function toldByAttempts(request: FastifyRequest, error: GatewayError): boolean {
  return (error.code === 'providers_unavailable' || error.code === 'upstream_timeout') && (request.trip?.attempts.length ?? 0) > 0;
}

/**
 * Fastify's `frameworkErrors`: errors raised before routing (a URL that does not decode, such as
 * `/%`), which skip the hooks and the error handler. Same body and request id as any other error.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header(REQUEST_ID_HEADER, request.id);
  sendError(request, reply, toGatewayError(error));
}

export default fp(
  async function errorHandler(app) {
    app.setErrorHandler((error, request, reply) => {
      const gatewayError = toGatewayError(error);
      if (gatewayError.statusCode >= 500 && gatewayError.code === 'internal_error') {
        request.log.error({ err: error }, 'unhandled error');
      } else if (gatewayError.statusCode >= 500 && !toldByAttempts(request, gatewayError)) {
        request.log.warn({ code: gatewayError.code }, gatewayError.message);
      }
      return sendError(request, reply, gatewayError);
    });

    app.setNotFoundHandler((request, reply) => sendError(request, reply, new GatewayError('not_found')));
  },
  { name: 'error-handler' },
);

/** Methods a route may serve; OPTIONS is left out, since CORS answers it on every path when on. */
const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** 405 with Allow when the path has routes for other methods, else 404. */
function refusal(app: FastifyInstance, request: FastifyRequest): GatewayError {
  const allow = ROUTE_METHODS.filter((method) => app.findRoute({ method, url: request.url }) !== null);
  if (allow.length === 0) return new GatewayError('not_found');
  const use = allow.filter((method) => method !== 'HEAD');
  return new GatewayError('method_not_allowed', { allow, message: `This route does not serve ${request.method}; use ${use.join(' or ')}.` });
}

/**
 * Unknown routes, and known ones asked with a method they do not serve, are an enumeration
 * surface: limited per client IP, and answered (404, or 405 with Allow) in an onRequest hook,
 * before the body is read and before the key is checked. So they never invite an upload
 * (100 Continue) or read one, say nothing about keys, and whatever the body or its type, the
 * answer is the same.
 */
export const unknownRoutes = fp<UnknownRoutesOptions>(
  async function unknownRoutes(app, options) {
    const limitUnknownRoutes = app.rateLimit({
      max: options.perMinute,
      timeWindow: 60_000,
      keyGenerator: clientAddressKey,
      errorResponseBuilder: rateLimitedError(() => 'Too many requests for unknown routes from this address.'),
    });
    app.addHook('onRequest', (request, reply, done) => {
      if (!request.is404) return done();
      limitUnknownRoutes.call(app, request, reply).then(() => done(refusal(app, request)), done);
    });
  },
  { name: 'unknown-routes', dependencies: ['@fastify/rate-limit', 'error-handler'] },
);
