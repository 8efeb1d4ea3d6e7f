// The field types the environment is read with: whole numbers in a range, booleans in words,
// header-safe secrets, base URLs and model ids. config.ts and the provider registry build their
// schemas from these.
import { isIP } from 'node:net';
import { z } from 'zod';

export const int = (min: number, max: number) => {
  const error = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
export const TRUTHY = ['true', '1', 'yes', 'on'];
export const FALSY = ['false', '0', 'no', 'off', ''];
export const bool = z.stringbool({ truthy: TRUTHY, falsy: FALSY });
// Provider keys and OpenRouter's attribution values travel in request headers. Node refuses a
// header value with anything but tab, visible ASCII and Latin-1, and would then fail every call
// to that provider as if it were down; refused here instead, at start, naming the variable.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
export const headerValue = z
  .string()
  .trim()
  .regex(HEADER_VALUE, 'may hold only characters allowed in an HTTP header (no line breaks or control characters, Latin-1 at most)');
export const optionalSecret = headerValue
  .optional()
  .transform((v) => (v ? v : undefined));
// The gateway appends each API path to a base URL, so a query or fragment would swallow it, and
// credentials in it would be dropped without a word.
export const url = z.url({ protocol: /^https?$/ }).refine((value) => {
  const parsed = URL.parse(value);
  // Not a URL at all is z.url()'s to report.
  return parsed === null || (parsed.search === '' && parsed.hash === '' && parsed.username === '' && parsed.password === '');
}, 'must be a plain http(s) URL: no query, fragment or user:password');

/** An address to listen on: an IP address or a host name (which must resolve on this machine). */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const host = z
  .string()
  .trim()
  .refine((value) => isIP(value) !== 0 || HOST_NAME.test(value), 'must be an IP address (0.0.0.0, 127.0.0.1, ::) or a host name');

/**
 * A model id as providers spell them ("meta-llama/llama-3.3-70b-instruct:free"). Ids go into
 * request bodies and, for Gemini, into the request path; ".." segments are refused everywhere.
 */
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._:@+/-]*$/;
export const isSafeModelId = (id: string): boolean => MODEL_ID.test(id) && !id.split('/').includes('..');
// A configured id may name a Gemini resource ("tunedModels/x"); a caller's may not (model-routing.ts).
export const modelId = z
  .string()
  .trim()
  .refine(isSafeModelId, 'must be a model id: a letter or digit, then letters, digits and . _ : @ + - / (no ".." segments)');

export const commaList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  );

