// The documented error bodies, for the OpenAPI document.
import { z } from 'zod';
import { ERROR_TABLE, MAX_DETAILS, MAX_FIELD_LENGTH } from '../errors.ts';

const codes = Object.keys(ERROR_TABLE) as [keyof typeof ERROR_TABLE, ...(keyof typeof ERROR_TABLE)[]];

export const errorResponseSchema = z
  .object({
    error: z.object({
      code: z.enum(codes).describe('Stable machine-readable code'),
      message: z.string().describe('Safe, human-readable explanation'),
      request_id: z.string().describe('Same as the x-request-id response header'),
      details: z
        .array(z.object({ field: z.string(), message: z.string() }))
        .max(MAX_DETAILS)
        .optional()
        .describe(
          `For validation errors: which field and why, for at most the first ${MAX_DETAILS} problems (when there were more, ` +
            `the message says how many in all). A field name over ${MAX_FIELD_LENGTH} characters is cut and ends in "…"`,
        ),
    }),
  })
  .describe('Error');

/** The error responses every protected route can give. */
export const protectedErrorResponses = {
  400: errorResponseSchema.describe('invalid_request: malformed JSON or a schema violation (details names the field), or every provider refused the request; content_filtered: a provider refused it on content grounds (the message names it)'),
  401: errorResponseSchema.describe('Missing or wrong API key'),
  403: errorResponseSchema.describe("forbidden_route / forbidden_model: the client's tier (KEYS_FILE) does not allow this route / this model"),
  413: errorResponseSchema.describe('Body larger than 64 KiB'),
  415: errorResponseSchema.describe('Body is not application/json'),
  429: errorResponseSchema.describe('rate_limited: the per-key rate limit (see Retry-After and x-ratelimit-* headers); too_many_concurrent_requests: the key already has MAX_CONCURRENT_PER_KEY requests in flight (Retry-After: 1); too_many_auth_failures: too many wrong keys from this address; quota_exceeded: the client tier\'s tokens for the day are spent (Retry-After: seconds to 00:00 UTC)'),
  500: errorResponseSchema.describe('A bug in the gateway; the cause is logged, never returned'),
  503: errorResponseSchema.describe('providers_unavailable: no provider could answer (all failed, cooling down or unconfigured), Retry-After when known; shutting_down: the gateway is draining'),
  504: errorResponseSchema.describe('The providers did not answer within the request budget'),
};
