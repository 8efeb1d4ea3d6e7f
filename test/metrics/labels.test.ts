// A property: whatever clients send (models, paths, methods, keys, prompts), no label value of
// the gateway's metrics is one it was not configured with. Arbitrary requests go to the real
// gateway over HTTP; then every label value of every series it exports must belong to a fixed set
// built from the configuration, the declared routes and the code's own lists.
//
// FUZZ_RUNS=<n> sets the runs (default 300); FUZZ_SEED=<n> replays a run.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TABLE } from '../../src/errors.ts';
import { KEY, OTHER_KEY, startGateway, type TestGateway } from '../helpers/gateway.ts';

const RUNS = Math.max(1, Number.parseInt(process.env.FUZZ_RUNS ?? '', 10) || 300);
const parsedSeed = Number.parseInt(process.env.FUZZ_SEED ?? '', 10);
const SEED = Number.isSafeInteger(parsedSeed) ? parsedSeed : undefined;

const OUTCOMES = ['ok', 'cooling_down', 'rate_limited', 'timeout', 'unavailable', 'bad_response', 'rejected', 'misconfigured', 'aborted'];
const METHODS = ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', '_OTHER'];
const OWN_METRIC = /^(gen_ai_|llm_router_|http_server_)/;

/** Every label of every series of the gateway's own metrics: [metric, label, value]. */
function labelValues(exposition: string): Array<{ metric: string; labels: Record<string, string> }> {
  return exposition
    .split('\n')
    .filter((line) => OWN_METRIC.test(line))
    .map((line) => {
      const metric = line.slice(0, line.search(/[{ ]/));
      const body = /\{(.*)\}/.exec(line)?.[1] ?? '';
      const labels = Object.fromEntries([...body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, name, value]) => [name ?? '', value ?? '']));
      return { metric, labels };
    });
}

const clientModel = fc.oneof(
  fc.constantFrom('auto', 'gemini', 'groq', 'openrouter'),
  fc.string({ maxLength: 30 }),
  fc.tuple(fc.constantFrom('gemini', 'groq', 'openrouter'), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,24}$/)).map(([p, m]) => `${p}/${m}`),
);
/** Mostly well-formed calls with a valid key (so arbitrary models reach the providers), some junk. */
const clientRequest = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      method: fc.constant('POST'),
      path: fc.constantFrom('/query', '/v1/chat/completions', '/v1/embeddings'),
      key: fc.constantFrom(KEY, OTHER_KEY),
      model: clientModel,
      prompt: fc.string({ minLength: 1, maxLength: 40 }),
      stream: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'SEARCH'),
      path: fc.oneof(
        fc.constantFrom('/query', '/v1/chat/completions', '/v1/embeddings', '/v1/models', '/health', '/health/ready', '/metrics', '/docs/json'),
        fc.webPath(),
        fc.string({ maxLength: 20 }).map((s) => `/v1/${encodeURIComponent(s)}`),
      ),
      key: fc.oneof(fc.constantFrom(KEY, OTHER_KEY), fc.string({ minLength: 1, maxLength: 40 }).filter((k) => /^[\x21-\x7e]+$/.test(k))),
      model: clientModel,
      prompt: fc.string({ minLength: 1, maxLength: 40 }),
      stream: fc.boolean(),
    }),
  },
);

describe('metric labels', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ RATE_LIMIT_PER_MINUTE: '1000000', AUTH_FAILURES_PER_MINUTE: '1000000' });
  });
  afterAll(() => gateway.close());

  it('take no value from what a client sends', async () => {
    const models = new Set(['other', 'none', ...[...gateway.config.providers.values()].flatMap((p) => [p.model, ...(p.embeddingModel ? [p.embeddingModel] : [])])]);
    const allowed: Record<string, (value: string, labels: Record<string, string>) => boolean> = {
      gen_ai_provider_name: (v) => ['gcp.gemini', 'groq', 'openrouter', 'none'].includes(v),
      gen_ai_request_model: (v) => models.has(v),
      gen_ai_operation_name: (v) => v === 'chat' || v === 'embeddings',
      gen_ai_token_type: (v) => v === 'input' || v === 'output',
      http_request_method: (v) => METHODS.includes(v),
      http_response_status_code: (v) => /^[1-5]\d\d$/.test(v),
      http_route: (v, labels) => v === 'unmatched' || gateway.app.hasRoute({ method: labels.http_request_method as 'GET', url: v }),
      error_type: (v) => /^[45]\d\d$/.test(v) || OUTCOMES.includes(v),
      outcome: (v) => OUTCOMES.includes(v),
      client: (v) => v === 'key-1' || v === 'key-2',
      code: (v) => v in ERROR_TABLE,
      state: (v) => ['ready', 'probing', 'cooling_down'].includes(v),
      le: (v) => v === '+Inf' || Number.isFinite(Number(v)),
    };

    await fc.assert(
      fc.asyncProperty(fc.array(clientRequest, { minLength: 1, maxLength: 4 }), async (requests) => {
        for (const r of requests) {
          const body =
            r.method !== 'POST' ? undefined
            : r.path === '/query' ? { prompt: r.prompt }
            : r.path === '/v1/embeddings' ? { model: r.model, input: r.prompt }
            : { model: r.model, stream: r.stream, messages: [{ role: 'user', content: r.prompt }] };
          const response = await fetch(`${gateway.url}${r.path}`, {
            method: r.method,
            headers: { authorization: `Bearer ${r.key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
            ...(body ? { body: JSON.stringify(body) } : {}),
          });
          await response.arrayBuffer();
          expect(response.status).toBeLessThan(500);
        }
        const exposition = await (await fetch(`${gateway.url}/metrics`)).text();
        for (const { metric, labels } of labelValues(exposition)) {
          for (const [name, value] of Object.entries(labels)) {
            const check = allowed[name];
            expect(check, `${metric} has a label ${name} nobody declared`).toBeDefined();
            expect(check?.(value, labels), `${metric}{${name}="${value}"}`).toBe(true);
          }
        }
      }),
      { numRuns: Math.ceil(RUNS / 3), ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  }, 120_000);
});
