// Fuzz: property-based requests against every route (random and hostile bodies, headers,
// content types, methods and paths) on one gateway whose fake providers are healthy. Whatever
// comes in, the gateway answers with a documented status and body (the OpenAI shape under /v1/),
// echoes a safe request id, never answers 5xx, never leaks a key, and keeps running; and a
// request from the schema's valid space always gets its answer.
//
// FUZZ_RUNS=<n> sets the runs per property (default 300); FUZZ_SEED=<n> replays a run.
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMIT_BYTES } from '../src/app.ts';
import { queryBodySchema } from '../src/schemas/query.ts';
import { errorBodyProblems, leakedSecrets, preview, queryAnswerProblems, usesOpenAiErrors } from './helpers/contract.ts';
import { KEY, OTHER_KEY, startGateway, UUID, type TestGateway } from './helpers/gateway.ts';
import { parseRawAnswer, rawClient, rawExchange, type RawClient, type RawRequest, type RawResponse } from './helpers/raw-http.ts';
import { openAiModel, servedRoutes, type ServedRoutes } from './helpers/routes.ts';

const RUNS = Math.max(1, Number.parseInt(process.env.FUZZ_RUNS ?? '', 10) || 300);
const parsedSeed = Number.parseInt(process.env.FUZZ_SEED ?? '', 10);
const SEED = Number.isSafeInteger(parsedSeed) ? parsedSeed : undefined;
const settings = (numRuns = RUNS) => ({ numRuns, ...(SEED === undefined ? {} : { seed: SEED }) });
/** For properties whose every case is expensive (bodies near the size limit). */
const fewer = Math.max(1, Math.ceil(RUNS / 10));
/** Per test: a few milliseconds a case, with room for a loaded machine and for shrinking. */
const TIMEOUT_MS = Math.max(20_000, RUNS * 2 * 50);

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const CLIENT_KEYS = [KEY, OTHER_KEY];
const JSON_HEADERS = { 'content-type': 'application/json', 'x-api-key': KEY };
const OPENAI_POST_ROUTES = ['/v1/chat/completions', '/v1/embeddings', '/v1/responses'];

// ---------------------------------------------------------------------------------------------
// Generators

/** Characters that break naive handling: controls, separators, bidi, zero-width, lone surrogates. */
const ODD_CHARACTERS = [
  '\u0000', '\u0001', '\u0008', '\u001b', '\u001f', '\u007f', '\u0085', '\u00a0', '\u00ad',
  '\u2028', '\u2029', '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u200e', '\u200f',
  '\u202a', '\u202e', '\u2066', '\u061c', '\ud800', '\udbff', '\udc00', '\udfff', '\ufffd',
  '\ufffe', '\uffff', '\u{10ffff}', '\u{1f600}', '\u{1f469}\u200d\u{1f4bb}', 'e\u0301', '\u0627\u0644',
  '\u05d0', '\u6f22', '"', '\\', '/', '<', '>', '&', "'", '%', '{', '}', '\n', '\r', '\t', ' ',
];

const character = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ODD_CHARACTERS) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
);

/** Short, long and repetitive strings of odd characters, at most `max` UTF-16 code units. */
const oddString = (max: number, min = 0) =>
  fc
    .oneof(
      fc.string({ unit: character, minLength: min, maxLength: Math.min(max, 40) }),
      fc.string({ unit: character, minLength: min, maxLength: max, size: 'max' }),
      fc.tuple(character, fc.integer({ min: Math.max(1, min), max })).map(([unit, count]) => unit.repeat(count)),
    )
    .map((text) => text.slice(0, max))
    .filter((text) => text.length >= min);

const validPrompt = oddString(4000, 1);

/** The documented valid space of POST /query. */
const validQuery = fc.record(
  {
    prompt: validPrompt,
    max_tokens: fc.integer({ min: 1, max: 2048 }),
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
  },
  { requiredKeys: ['prompt'] },
);

const anyJson = fc.jsonValue({ maxDepth: 3 });
/** Any JSON at all: default depth, and strings (keys too) of odd characters half of the time. */
const randomJson = fc.oneof(fc.jsonValue(), fc.jsonValue({ stringUnit: character }));

/** Each field right, wrong in type, or just outside its range; sometimes with unknown fields. */
const mixedQuery = fc
  .tuple(
    fc.record(
      {
        prompt: fc.oneof(validPrompt, anyJson, fc.constantFrom('', 'x'.repeat(4001), 42, null, true, [], {}, ['x'])),
        max_tokens: fc.oneof(
          fc.integer({ min: 1, max: 2048 }),
          anyJson,
          fc.constantFrom(0, 2049, 1.5, -1, '10', 1e308, -0, null, Number.MAX_SAFE_INTEGER + 2),
        ),
        temperature: fc.oneof(
          fc.double({ min: 0, max: 2, noNaN: true }),
          anyJson,
          fc.constantFrom(-0.0001, 2.0001, '1', null, Number.MAX_VALUE, Number.MIN_VALUE, true),
        ),
      },
      { requiredKeys: [] },
    ),
    fc.option(fc.dictionary(fc.string({ maxLength: 12 }), anyJson, { maxKeys: 3 }), { freq: 4 }),
  )
  .map(([fields, extra]) => ({ ...(extra ?? {}), ...fields }));

/** Number spellings that JSON allows (and some it does not) in each numeric field. */
const numberLiteral = fc.oneof(
  fc.constantFrom('1e400', '-1e400', '1e-400', '-0', '0.0', '1.0', '2.0000000000000001', '2048.0', '2048.4', '1E3', '00', '01', '+1', '.5', '5.', 'NaN', 'Infinity', '0x10', '1_0', '12345678901234567890'),
  fc.double().map((n) => (Number.isFinite(n) ? String(n) : 'null')),
  fc.integer().map(String),
);

const latin1Text = (max: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: max });

/** Bytes Node will send in a header value: tab, visible ASCII, and 0x80-0xFF (read back as Latin-1). */
const headerValue = (max: number) =>
  fc.oneof(
    latin1Text(max),
    // UTF-8 bytes on the wire, the way a non-ASCII key would arrive.
    fc.string({ unit: 'grapheme', maxLength: Math.ceil(max / 4) }).map((text) => Buffer.from(text, 'utf8').toString('latin1')),
  ).filter((value) => /^[\t\x20-\x7e\x80-\xff]*$/.test(value));

const apiKeyValue = fc.oneof(
  fc.constantFrom('', ' ', '\t', KEY, OTHER_KEY, ` ${KEY} `, `\t${KEY}`, `${KEY}x`, KEY.slice(0, -1), KEY.toUpperCase(), `${KEY},${OTHER_KEY}`, `${KEY}, ${OTHER_KEY}`, `${KEY}\u00e9`, `Bearer ${KEY}`, 'null', 'undefined', '*'),
  headerValue(64),
  // Large, yet with two of them and an Authorization header still under Node's 16 KiB header limit.
  fc.integer({ min: 1000, max: 5000 }).map((n) => 'k'.repeat(n)),
);

const authorizationValue = fc.oneof(
  fc.constantFrom(`Bearer ${KEY}`, `Bearer  ${KEY} `, `bearer ${KEY}`, `BEARER ${KEY}`, 'Bearer', 'Bearer ', `Basic ${Buffer.from(`x:${KEY}`).toString('base64')}`, `Bearer ${KEY} ${OTHER_KEY}`, `Token ${KEY}`),
  apiKeyValue.map((key) => `Bearer ${key}`),
  headerValue(64),
);

const requestIdValue = fc.oneof(
  fc.stringMatching(SAFE_REQUEST_ID),
  fc.constantFrom('', 'a'.repeat(128), 'a'.repeat(129), '<script>alert(1)</script>', 'id with spaces', 'id\u00e9', '../../etc/passwd', '${jndi:x}'),
  headerValue(40),
);

const CONTENT_TYPES_ACCEPTED = ['application/json', 'Application/JSON', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json;', 'application/json ; charset=utf-8'];
const CONTENT_TYPES_REFUSED = ['', 'text/plain', 'text/json', 'application/jsonx', 'application/json-patch+json', 'application/vnd.api+json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', ';;;', '*/*', 'application/*', 'application/json, text/plain'];
const contentTypeValue = fc.oneof(
  fc.constantFrom(...CONTENT_TYPES_ACCEPTED, ...CONTENT_TYPES_REFUSED),
  fc.constantFrom('application/json; charset=utf-16', 'application/json; charset="', 'application/json; a=b; a=c', 'application/json; boundary=;;'),
  latin1Text(60),
  latin1Text(20).map((suffix) => `application/json${suffix}`),
);

/** The one origin CORS is on for here. */
const PAGE_ORIGIN = 'https://app.example.com';
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'SEARCH', 'PURGE', 'LOCK'];
const PATH_UNITS = ['a', 'z', '0', '/', '//', '.', '..', '-', '_', '~', ':', '@', '!', '$', '&', "'", '(', ')', '*', '+', ',', ';', '=', '?', '#', '[', ']', '%', '%00', '%2e', '%2f', '%2F', '%5c', '%ff', '%e0%a4%a', '%c0%ae', '%zz'];
const junkPath = fc.string({ unit: fc.constantFrom(...PATH_UNITS), maxLength: 30 }).map((rest) => `/${rest}`);

// ---------------------------------------------------------------------------------------------
// Oracles

/** Fastify rejects bodies with these keys (prototype poisoning) before validation. */
function poisoned(value: unknown): boolean {
  // Iterative: the bodies here nest tens of thousands of levels deep.
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next !== 'object' || next === null) continue;
    if (!Array.isArray(next)) {
      const record = next as Record<string, unknown>;
      if (Object.hasOwn(record, '__proto__')) return true;
      const ctor = record.constructor;
      if (Object.hasOwn(record, 'constructor') && typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) return true;
    }
    pending.push(...Object.values(next));
  }
  return false;
}

/** What POST /query must answer a correctly authenticated JSON request with these bytes. */
function expectedQueryStatus(body: Buffer): 200 | 400 | 413 {
  if (body.length > BODY_LIMIT_BYTES) return 413;
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 400;
  }
  if (poisoned(value)) return 400;
  return queryBodySchema.safeParse(value).success ? 200 : 400;
}

/** Node trims spaces and tabs around header values. */
const trimOws = (value: string) => value.replace(/^[ \t]+|[ \t]+$/g, '');

/** Whether these headers carry a valid client key, by the documented rule (X-API-Key first, then Bearer). */
function carriesValidKey(apiKeys: string[], authorization: string | undefined): boolean {
  if (apiKeys.length > 0) {
    const joined = apiKeys.map(trimOws).join(', ');
    if (joined.length > 0) return CLIENT_KEYS.includes(joined);
  }
  if (authorization === undefined) return false;
  const value = trimOws(authorization);
  // The scheme's name is case-insensitive.
  if (!/^bearer /i.test(value)) return false;
  const token = value.slice(7).trim();
  return token.length > 0 && CLIENT_KEYS.includes(token);
}

// ---------------------------------------------------------------------------------------------

describe(`fuzz: ${RUNS} runs per property${SEED === undefined ? '' : ` (seed ${SEED})`}`, { timeout: TIMEOUT_MS }, () => {
  let gateway: TestGateway;
  let client: RawClient;
  let routes: ServedRoutes;
  let secrets: string[];
  let chatModel: string | undefined;
  let sent = 0;
  const rejections: unknown[] = [];
  const warnings: Error[] = [];
  const onRejection = (reason: unknown) => void rejections.push(reason);
  const onWarning = (warning: Error) => void warnings.push(warning);

  beforeAll(async () => {
    gateway = await startGateway({
      RATE_LIMIT_PER_MINUTE: '1000000',
      AUTH_FAILURES_PER_MINUTE: '1000000',
      // Healthy fakes, generous budgets: here a 503 or 504 can only be a bug.
      PROVIDER_TIMEOUT_MS: '5000',
      FIRST_TOKEN_TIMEOUT_MS: '5000',
      REQUEST_TIMEOUT_MS: '10000',
      LOG_LEVEL: 'info',
      // CORS on, so the Origin header below goes through its hook and its preflight route.
      CORS_ORIGINS: PAGE_ORIGIN,
    });
    client = rawClient(gateway.url, { retryStaleConnections: true });
    routes = await servedRoutes(gateway);
    chatModel = await openAiModel(gateway, routes, '/v1/chat/completions');
    const providerKeys = Object.values(gateway.config.providers).map((p) => p.apiKey ?? '');
    secrets = [...CLIENT_KEYS, ...providerKeys].filter((secret) => secret.length > 0);
    process.on('unhandledRejection', onRejection);
    process.on('warning', onWarning);
  });

  afterEach(async () => {
    // Never a crash: whatever the last case did, the gateway still answers.
    const health = await client.send({ method: 'GET', path: '/health' });
    expect(health.status).toBe(200);
    // The fakes record what they receive; keep that from piling up across properties.
    for (const fake of Object.values(gateway.fakes)) fake.requests.length = 0;
  });

  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    process.off('warning', onWarning);
    console.log(`fuzz: ${sent} requests sent, ${RUNS} runs per property, ${Object.keys(routes?.paths ?? {}).length} documented paths`);
    client?.close();
    await gateway?.close();
  });

  /** Sends one request and checks what every response must satisfy; returns the response. */
  async function checked(request: RawRequest): Promise<RawResponse> {
    sent += 1;
    const response = await client.send(request);
    const context = `${request.method} ${preview(request.path, 80)} -> ${response.status} ${preview(response.text, 300)}`;
    expect(response.status, context).toBeLessThan(500);
    const id = response.headers['x-request-id'];
    expect(typeof id === 'string' && SAFE_REQUEST_ID.test(id), `x-request-id ${String(id)}: ${context}`).toBe(true);
    if (request.method === 'HEAD') {
      expect(response.body.length, context).toBe(0);
    } else if (response.status >= 400) {
      let body: unknown = response.text;
      try {
        body = JSON.parse(response.text);
      } catch {
        // reported below as "not an error body"
      }
      expect(errorBodyProblems(response.status, id as string, body, usesOpenAiErrors(request.path)), context).toEqual([]);
    }
    const exposed = `${response.rawHeaders.join('\n')}\n${response.text}`;
    expect(leakedSecrets(exposed, secrets), context).toEqual([]);
    return response;
  }

  const postQuery = (body: string | Buffer, headers: Record<string, string> = JSON_HEADERS) =>
    checked({ method: 'POST', path: '/query', headers, body });

  describe('POST /query bodies', () => {
    it('answers random JSON with 200 exactly when the schema accepts it, else the documented 400', async () => {
      await fc.assert(
        fc.asyncProperty(randomJson, async (value) => {
          const body = Buffer.from(JSON.stringify(value));
          const response = await postQuery(body);
          expect(response.status, preview(value)).toBe(expectedQueryStatus(body));
        }),
        settings(),
      );
    });

    it('answers any serialised value (fc.anything) by the schema', async () => {
      await fc.assert(
        fc.asyncProperty(fc.anything(), async (value) => {
          const body = Buffer.from(JSON.stringify(value) ?? '');
          const response = await postQuery(body);
          expect(response.status, preview(body.toString())).toBe(expectedQueryStatus(body));
        }),
        settings(),
      );
    });

    it('answers wrong types, out-of-range values and unknown fields by the schema', async () => {
      await fc.assert(
        fc.asyncProperty(mixedQuery, async (value) => {
          const body = Buffer.from(JSON.stringify(value));
          const response = await postQuery(body);
          expect(response.status, preview(value)).toBe(expectedQueryStatus(body));
          if (response.status === 400 && !poisoned(value)) {
            const details = (JSON.parse(response.text) as { error: { details?: unknown[] } }).error.details;
            expect(details?.length, 'a schema violation names its fields').toBeGreaterThan(0);
          }
        }),
        settings(),
      );
    });

    it('reads every spelling of a number the way JSON.parse does', async () => {
      const field = fc.constantFrom('max_tokens', 'temperature', 'prompt');
      await fc.assert(
        fc.asyncProperty(field, numberLiteral, async (name, literal) => {
          const body = Buffer.from(name === 'prompt' ? `{"prompt":${literal}}` : `{"prompt":"n","${name}":${literal}}`);
          const response = await postQuery(body);
          expect(response.status, body.toString()).toBe(expectedQueryStatus(body));
        }),
        settings(Math.ceil(RUNS / 2)),
      );
    });

    it('answers every request from the valid space with 200 and the documented answer', async () => {
      await fc.assert(
        fc.asyncProperty(validQuery, async (value) => {
          const response = await postQuery(Buffer.from(JSON.stringify(value)));
          expect(response.status, preview(value)).toBe(200);
          const body = JSON.parse(response.text) as unknown;
          const header = (name: string) => response.headers[name] as string | undefined;
          expect(queryAnswerProblems(body, header('x-request-id'), header('x-llm-provider'))).toEqual([]);
        }),
        settings(),
      );
    });

    it('decodes invalid UTF-8 with replacement characters, then applies the schema', async () => {
      const bytes = fc.uint8Array({ maxLength: 64 }).map((array) => Buffer.from(array));
      const body = fc.oneof(
        bytes,
        // Stray bytes inside an otherwise valid prompt.
        fc.tuple(fc.string({ maxLength: 20 }), bytes).map(([text, junk]) =>
          Buffer.concat([Buffer.from(`{"prompt":"${text.replace(/["\\]/g, '')}`), junk, Buffer.from('"}')]),
        ),
        // Overlong encodings, surrogates encoded in UTF-8, truncated sequences, a BOM.
        fc.constantFrom(
          [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xff], [0xfe, 0xff], [0xef, 0xbb, 0xbf],
        ).map((junk) => Buffer.concat([Buffer.from('{"prompt":"'), Buffer.from(junk), Buffer.from('"}')])),
        fc.constant(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"prompt":"bom"}')])),
      );
      await fc.assert(
        fc.asyncProperty(body, async (payload) => {
          const response = await postQuery(payload);
          expect(response.status, payload.toString('hex')).toBe(expectedQueryStatus(payload));
        }),
        settings(),
      );
    });

    it('refuses deeply nested JSON with 400 (413 past the size limit), anywhere in the body', async () => {
      const shapes: Record<string, (depth: number) => string> = {
        array: (depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`,
        object: (depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
        prompt: (depth) => `{"prompt":${'['.repeat(depth)}"x"${']'.repeat(depth)}}`,
        max_tokens: (depth) => `{"prompt":"x","max_tokens":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
        unknown: (depth) => `{"prompt":"x","deep":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        unclosed: (depth) => `{"prompt":"x","deep":${'['.repeat(depth)}`,
      };
      const depth = fc.oneof(fc.constant(10_000), fc.integer({ min: 1, max: 40_000 }));
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...Object.keys(shapes)), depth, async (shape, levels) => {
          const body = Buffer.from((shapes[shape] as (depth: number) => string)(levels));
          const response = await postQuery(body);
          expect(response.status, `${shape} x${levels}`).toBe(expectedQueryStatus(body));
          expect(response.status).not.toBe(200);
        }),
        { ...settings(fewer * 2), examples: Object.keys(shapes).map((shape) => [shape, 10_000] as [string, number]) },
      );
    });

    it('answers bodies around the 64 KiB limit with 413 past it', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: BODY_LIMIT_BYTES - 64, max: BODY_LIMIT_BYTES + 64 }), async (size) => {
          const frame = '{"prompt":"","pad":""}';
          const body = Buffer.from(`{"prompt":"${'p'.repeat(Math.max(0, Math.min(4000, size - frame.length)))}","pad":"${'x'.repeat(Math.max(0, size - frame.length - 4000))}"}`);
          const response = await postQuery(body);
          expect(response.status).toBe(expectedQueryStatus(body));
        }),
        settings(fewer * 2),
      );
    });
  });

  describe('headers', () => {
    it('authenticates exactly the configured keys, from X-API-Key or a Bearer token, whatever else is sent', async () => {
      const headers = fc.record(
        {
          apiKeys: fc.array(apiKeyValue, { maxLength: 2 }),
          authorization: authorizationValue,
          requestId: requestIdValue,
        },
        { requiredKeys: ['apiKeys'] },
      );
      await fc.assert(
        fc.asyncProperty(headers, validQuery, async ({ apiKeys, authorization, requestId }, query) => {
          const list = ['content-type', 'application/json'];
          for (const key of apiKeys) list.push('x-api-key', key);
          if (authorization !== undefined) list.push('authorization', authorization);
          if (requestId !== undefined) list.push('x-request-id', requestId);
          const response = await checked({ method: 'POST', path: '/query', headers: list, body: JSON.stringify(query) });
          const context = preview({ apiKeys: apiKeys.map((k) => preview(k, 40)), authorization: preview(authorization ?? '', 40), status: response.status });
          if (carriesValidKey(apiKeys, authorization)) expect(response.status, context).toBe(200);
          else expect(response.status, context).toBe(401);
          // A sane request id is kept; anything else is replaced, never echoed.
          const sentId = requestId === undefined ? undefined : trimOws(requestId);
          const id = response.headers['x-request-id'];
          if (sentId !== undefined && SAFE_REQUEST_ID.test(sentId)) expect(id).toBe(sentId);
          else expect(id).toMatch(UUID);
        }),
        settings(),
      );
    });

    it('accepts JSON content types, refuses others with 415, and never fails on an odd one', async () => {
      await fc.assert(
        fc.asyncProperty(fc.option(contentTypeValue, { freq: 8 }), validQuery, async (contentType, query) => {
          const headers: Record<string, string> = { 'x-api-key': KEY };
          if (contentType !== null) headers['content-type'] = contentType;
          const response = await checked({ method: 'POST', path: '/query', headers, body: JSON.stringify(query) });
          const context = `content-type ${JSON.stringify(contentType)} -> ${response.status}`;
          if (contentType !== null && CONTENT_TYPES_ACCEPTED.includes(contentType)) expect(response.status, context).toBe(200);
          else if (contentType === null || CONTENT_TYPES_REFUSED.includes(contentType)) expect(response.status, context).toBe(415);
          else expect([200, 400, 415], context).toContain(response.status);
        }),
        settings(),
      );
    });

    it('answers an X-API-Key larger than the header limit without failing, and keeps serving', async () => {
      // Node's HTTP parser refuses it before Fastify sees a request; it still gets the
      // documented body, with a request id, and nothing of the header is echoed.
      for (const size of [17 * 1024, 64 * 1024]) {
        const hugeKey = `${KEY}${'k'.repeat(size)}`;
        const response = await client.send({ method: 'POST', path: '/query', headers: { ...JSON_HEADERS, 'x-api-key': hugeKey }, body: '{"prompt":"x"}', freshConnection: true });
        sent += 1;
        expect(response.status).toBe(431);
        expect(errorBodyProblems(431, response.headers['x-request-id'] as string | undefined, JSON.parse(response.text), false)).toEqual([]);
        expect(JSON.parse(response.text).error.code).toBe('headers_too_large');
        expect(response.text).not.toContain(KEY);
      }
    });
  });

  describe('methods and paths', () => {
    it('answers any method on any path with a documented status and body', async () => {
      const knownPath = fc.constantFrom(
        ...new Set([...Object.keys(routes.paths), '/query', '/health', '/docs', '/docs/', '/docs/json', '/docs/yaml', '/docs/static/index.html', '/docs/static/swagger-ui.css', '/', '/v1', '/v1/', ...OPENAI_POST_ROUTES, '/v1/models']),
      );
      const path = fc.oneof(
        knownPath,
        fc.tuple(knownPath, fc.constantFrom('/', '//', '/.', '/..', '?', '?a=1&a=2', '?%', '%', '%2f', '.json', '/x', '#frag', ';x')).map(([p, s]) => `${p}${s}`),
        knownPath.map((p) => p.toUpperCase()),
        fc.tuple(fc.constantFrom('/docs/static/', '/docs/static/..', '/docs/'), fc.constantFrom('../package.json', '..%2f..%2fpackage.json', '%2e%2e/%2e%2e/package.json', '....//....//.env.example', '..\\..\\package.json', '%c0%ae%c0%ae/package.json')).map(([a, b]) => `${a}${b}`),
        fc.webPath(),
        fc.tuple(fc.webPath(), fc.webQueryParameters()).map(([p, q]) => `${p || '/'}?${q}`),
        junkPath,
        fc.integer({ min: 200, max: 8000 }).map((n) => `/${'a'.repeat(n)}`),
      );
      const body = fc.option(fc.oneof(anyJson.map((v) => JSON.stringify(v)), fc.string({ maxLength: 100 }), fc.constant('{"prompt":"hello"}')), { freq: 2 });
      const origin = fc.option(
        fc.oneof(
          fc.constantFrom(PAGE_ORIGIN, `${PAGE_ORIGIN}/`, PAGE_ORIGIN.toUpperCase(), 'null', 'https://elsewhere.example', '*', ''),
          fc.webUrl(),
          fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 }),
        ),
        { freq: 2 },
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...METHODS), path, body, fc.boolean(), fc.option(contentTypeValue), origin, async (method, target, payload, withKey, contentType, from) => {
          const headers: Record<string, string> = {};
          if (withKey) headers['x-api-key'] = KEY;
          if (contentType !== null) headers['content-type'] = contentType;
          if (from !== null) {
            headers.origin = from;
            if (method === 'OPTIONS') headers['access-control-request-method'] = 'POST';
          }
          const request: RawRequest = { method, path: target.startsWith('/') ? target : `/${target}`, headers };
          if (payload !== null) request.body = payload;
          const response = await checked(request);
          // Nothing outside the static directory is ever served.
          expect(response.text).not.toMatch(/"devDependencies"|API_KEYS=/);
          if (method === 'GET' && target === '/health') expect(response.status).toBe(200);
          // Only the listed origin, exactly as browsers write it, gets CORS headers: on every
          // answer, except a 400 that comes before any hook (a path the router cannot decode).
          const allowOrigin = response.headers['access-control-allow-origin'];
          if (from !== PAGE_ORIGIN) expect(allowOrigin, `origin ${from}`).toBeUndefined();
          else if (response.status !== 400) expect(allowOrigin).toBe(PAGE_ORIGIN);
          if (method === 'OPTIONS' && from === PAGE_ORIGIN && response.status !== 400) expect(response.status).toBe(204);
        }),
        settings(RUNS * 2),
      );
    });

    it('refuses requests the HTTP parser cannot read with a 4xx, and goes on serving', async () => {
      // Node's parser rejects these before Fastify sees a request. They still get the documented
      // error body with a fresh request id, the connection is closed, nothing is echoed, and the
      // gateway keeps answering.
      const end = 'Connection: close\r\n\r\n';
      const requests: Record<string, Buffer> = {
        'a raw byte above 0x7F in the path': Buffer.from(`GET /\xff HTTP/1.1\r\nHost: x\r\n${end}`, 'latin1'),
        'UTF-8 in the path': Buffer.from(`GET /\u00e9t\u00e9/${KEY} HTTP/1.1\r\nHost: x\r\n${end}`, 'utf8'),
        'a control character in X-API-Key': Buffer.from(`POST /query HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\x01\r\n${end}`),
        'a NUL in the request line': Buffer.from(`GET /health\x00 HTTP/1.1\r\nHost: x\r\n${end}`),
        'a space in a header name': Buffer.from(`GET /health HTTP/1.1\r\nHost: x\r\nX API-Key: ${KEY}\r\n${end}`),
        'no Host header': Buffer.from(`GET /health HTTP/1.1\r\n${end}`),
        'an unknown HTTP version': Buffer.from(`GET /health HTTP/9.9\r\nHost: x\r\n${end}`),
        'an unknown method': Buffer.from(`BREW /health HTTP/1.1\r\nHost: x\r\n${end}`),
        'Content-Length with Transfer-Encoding': Buffer.from(`POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: ${KEY}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n${end}0\r\n\r\n`),
        'a negative Content-Length': Buffer.from(`POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n${end}`),
        'two different Content-Lengths': Buffer.from(`POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n${end}ab`),
        'a broken chunk size': Buffer.from(`POST /query HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n${end}zz\r\n{}\r\n0\r\n\r\n`),
        'a folded header line': Buffer.from(`GET /health HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\n  continued\r\n${end}`),
        'a header section over the limit': Buffer.from(`GET /health HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}${'k'.repeat(20_000)}\r\n${end}`),
        'a TLS handshake on the plain port': Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, ...Buffer.from(KEY)]),
      };
      for (const [name, bytes] of Object.entries(requests)) {
        sent += 1;
        const answer = await rawExchange(gateway.url, bytes);
        const { status, headers, body } = parseRawAnswer(answer);
        // An answer every time: a dropped connection would tell the client nothing.
        expect(status >= 400 && status < 500, `${name}: ${preview(answer)}`).toBe(true);
        expect(errorBodyProblems(status, headers['x-request-id'], JSON.parse(body), false), name).toEqual([]);
        expect(headers.connection?.toLowerCase(), name).toBe('close');
        expect(leakedSecrets(answer, secrets), name).toEqual([]);
        const health = await client.send({ method: 'GET', path: '/health' });
        expect(health.status, `after ${name}`).toBe(200);
      }
    });

    it('answers a URL that does not decode with the documented 400', async () => {
      for (const path of ['/%', '/%zz', '/query%', '/docs/static/%E0%A4%A', '/v1/%ff']) {
        const response = await checked({ method: 'GET', path, headers: { 'x-request-id': 'bad-url-1' } });
        expect(response.status, path).toBe(400);
        expect(response.headers['x-request-id']).toBe('bad-url-1');
      }
    });
  });

  describe('OpenAI-compatible routes', () => {
    it('answers random bodies on every /v1 POST route with a documented status and the OpenAI error shape', async () => {
      // Every one is served: a route gone missing fails here rather than passing unnoticed.
      const present = OPENAI_POST_ROUTES.filter((path) => routes.has('post', path));
      expect(present).toEqual(OPENAI_POST_ROUTES);
      const body = fc.oneof(
        anyJson.map((v) => JSON.stringify(v)),
        fc.anything().map((v) => JSON.stringify(v) ?? ''),
        fc.record(
          {
            model: fc.oneof(fc.constant(chatModel ?? 'auto'), oddString(40), anyJson),
            messages: fc.oneof(
              fc.array(fc.record({ role: fc.oneof(fc.constantFrom('user', 'system', 'assistant', 'tool', 'developer', ''), anyJson), content: fc.oneof(oddString(200), anyJson) }, { requiredKeys: [] }), { maxLength: 4 }),
              anyJson,
            ),
            input: fc.oneof(oddString(200), fc.array(oddString(50), { maxLength: 4 }), anyJson),
            stream: fc.oneof(fc.boolean(), anyJson),
            max_tokens: fc.oneof(fc.integer({ min: -10, max: 100_000 }), anyJson),
            temperature: fc.oneof(fc.double({ noNaN: true }), anyJson),
          },
          { requiredKeys: [] },
        ).map((v) => JSON.stringify(v)),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...present), body, async (path, payload) => {
          const response = await checked({ method: 'POST', path, headers: JSON_HEADERS, body: payload });
          expect([200, 400, 404, 413, 415, 422]).toContain(response.status);
        }),
        settings(),
      );
    });

    it('answers every valid chat request with 200', async () => {
      expect(routes.has('post', '/v1/chat/completions')).toBe(true);
      const messages = fc.array(fc.record({ role: fc.constantFrom('user', 'system'), content: oddString(500, 1) }), { minLength: 0, maxLength: 3 });
      await fc.assert(
        fc.asyncProperty(messages, oddString(1000, 1), fc.option(fc.integer({ min: 1, max: 2048 })), async (history, last, maxTokens) => {
          const body = {
            ...(chatModel === undefined ? {} : { model: chatModel }),
            messages: [...history, { role: 'user', content: last }],
            ...(maxTokens === null ? {} : { max_tokens: maxTokens }),
          };
          const response = await checked({ method: 'POST', path: '/v1/chat/completions', headers: JSON_HEADERS, body: JSON.stringify(body) });
          expect(response.status, preview(response.text)).toBe(200);
        }),
        settings(Math.ceil(RUNS / 2)),
      );
    });
  });

  describe('after all of it', () => {
    it('never logged a key or an error, and raised no unhandled rejection or warning', () => {
      expect(leakedSecrets(gateway.logText(), secrets)).toEqual([]);
      expect(gateway.logs.filter((line) => (line.level as number) >= 50).slice(0, 3)).toEqual([]);
      expect(rejections.map(String)).toEqual([]);
      expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    });
  });
});
