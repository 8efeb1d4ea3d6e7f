// A real Prometheus scrapes the real gateway after traffic with fallbacks and errors; its HTTP API
// must show the series with the labels and values that traffic implies. The shipped scrape config
// and alert rules are what it runs (only the target, the token and a 1 s interval are changed),
// promtool checks them and runs their rule tests, and every dashboard panel's query is sent to it.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { KEY, OTHER_KEY, query, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { PROMTOOL, run, runWithPrometheus, startPrometheus, type PromSample, type RunningPrometheus } from '../helpers/prometheus.ts';

const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;
const TOKEN = 'metrics-token-for-the-tests-0123456789';

interface Panel {
  title: string;
  targets: Array<{ expr: string }>;
}
const dashboard = JSON.parse(readFileSync(`${DEPLOY}grafana/dashboard.json`, 'utf8')) as { panels: Panel[] };
/** A panel's query as Grafana would send it, its range macro filled in. */
const promql = (expr: string) => expr.replaceAll('$__rate_interval', '1m');

// PromQL words that are not metric names: functions, aggregations, keywords.
const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'by', 'without', 'rate', 'increase', 'irate', 'histogram_quantile',
  'avg_over_time', 'max_over_time', 'min_over_time', 'and', 'or', 'unless', 'on', 'ignoring', 'bool', 'offset',
]);
/** The metric names a query reads: identifiers outside label matchers, grouping clauses, strings and ranges. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"[^"]*"/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)].map((m) => m[0]).filter((word) => !PROMQL_WORDS.has(word));
}

const bySeries = (samples: PromSample[], ...labels: string[]) =>
  Object.fromEntries(samples.map((s) => [labels.map((l) => s.metric[l]).join(' '), Number(s.value[1])]));

describe.runIf(runWithPrometheus)('a real Prometheus scraping the gateway', () => {
  let gateway: TestGateway;
  let prometheus: RunningPrometheus;
  let exposition: string;

  beforeAll(async () => {
    gateway = await startGateway({ METRICS_TOKEN: TOKEN, CIRCUIT_BREAKER_THRESHOLD: '1', CIRCUIT_BREAKER_COOLDOWN_MS: '600000', MAX_RETRIES: '0' });
    const chat = (key: string, body: unknown) =>
      fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

    // Embeddings while Gemini still answers (it is the only provider that embeds).
    expect((await fetch(`${gateway.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ input: 'x' }) })).status).toBe(200);
    // Gemini fails: its first failure cools it down (threshold 1), and every request falls back to Groq.
    gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
    for (let i = 0; i < 3; i += 1) expect((await query(gateway, { prompt: `the prompt ${i}` })).status).toBe(200);
    expect((await query(gateway, { prompt: 'from the second key' }, { key: OTHER_KEY })).status).toBe(200);
    // OpenRouter's quota is used up: its 429 cools it down, and the cascade that started there moves on.
    gateway.fakes.openrouter.enqueue({ kind: 'rate_limited', retryAfterSeconds: 600 });
    expect((await chat(KEY, { model: 'openrouter', messages: [{ role: 'user', content: 'x' }] })).status).toBe(200);
    // A stream, a model that is not configured (the provider says it has no such model), a wrong key.
    const stream = await chat(KEY, { model: 'groq', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }] });
    expect(stream.status).toBe(200);
    expect(await stream.text()).toContain('[DONE]');
    expect((await chat(KEY, { model: 'groq/a-model-nobody-configured', messages: [{ role: 'user', content: 'x' }] })).status).toBe(404);
    expect((await query(gateway, { prompt: 'x' }, { key: 'not-a-key-at-all' })).status).toBe(401);

    const shipped = parse(readFileSync(`${DEPLOY}prometheus/prometheus.yml`, 'utf8')) as {
      global: Record<string, string>;
      rule_files: string[];
      scrape_configs: Array<Record<string, unknown>>;
    };
    const job = shipped.scrape_configs[0] ?? {};
    const target = new URL(gateway.url).host;
    const config = {
      ...shipped,
      global: { ...shipped.global, scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: shipped.rule_files.map((file) => `${DEPLOY}prometheus/${file}`),
      scrape_configs: [
        { ...job, static_configs: [{ targets: [target] }], authorization: { type: 'Bearer', credentials: TOKEN } },
        // The same gateway without the token: Prometheus must be refused.
        { ...job, job_name: 'secure-llm-router-without-token', static_configs: [{ targets: [target] }] },
      ],
    };
    prometheus = await startPrometheus(stringify(config));
    await prometheus.until('up{job="secure-llm-router"}', (s) => s[0]?.value[1] === '1');
    exposition = await (await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  }, 60_000);

  afterAll(async () => {
    await prometheus?.close();
    await gateway?.close();
  });

  it('scrapes with the token, and is refused without it', async () => {
    await prometheus.until('up{job="secure-llm-router-without-token"}', (s) => s[0]?.value[1] === '0');
    const targets = await prometheus.api<{ activeTargets: Array<{ scrapePool: string; health: string; lastError: string }> }>('/api/v1/targets');
    const refused = targets.activeTargets.find((t) => t.scrapePool === 'secure-llm-router-without-token');
    expect(refused).toMatchObject({ health: 'down', lastError: expect.stringContaining('401') });
    expect(targets.activeTargets.find((t) => t.scrapePool === 'secure-llm-router')).toMatchObject({ health: 'up', lastError: '' });
  });

  it('counts every attempt by provider, configured model and outcome, and every fallback', async () => {
    const attempts = bySeries(await prometheus.query('llm_router_provider_attempts_total'), 'gen_ai_provider_name', 'gen_ai_request_model', 'outcome');
    expect(attempts).toEqual({
      'gcp.gemini gemini-embedding-001 ok': 1,
      'gcp.gemini gemini-flash-lite-latest unavailable': 1,
      'gcp.gemini gemini-flash-lite-latest cooling_down': 4,
      'groq openai/gpt-oss-20b ok': 6,
      'groq other rejected': 1,
      'openrouter openrouter/free rate_limited': 1,
    });
    const fallbacks = bySeries(await prometheus.query('llm_router_fallbacks_total'), 'gen_ai_provider_name', 'outcome');
    expect(fallbacks).toEqual({ 'gcp.gemini unavailable': 1, 'gcp.gemini cooling_down': 4, 'openrouter rate_limited': 1 });
  });

  it('counts requests by route and status, and refusals by code', async () => {
    const requests = bySeries(await prometheus.query('http_server_request_duration_seconds_count{http_route!="/metrics"}'), 'http_request_method', 'http_route', 'http_response_status_code');
    expect(requests).toEqual({
      'POST /v1/embeddings 200': 1,
      'POST /query 200': 4,
      'POST /query 401': 1,
      'POST /v1/chat/completions 200': 2,
      'POST /v1/chat/completions 404': 1,
    });
    // The wrong key, and each scrape refused for want of the token (the other job's, once a
    // second: a scrape by this job sees those before it).
    const errorsOf = (samples: PromSample[]) => bySeries(samples, 'code');
    const errors = errorsOf(await prometheus.until('llm_router_error_responses_total{job="secure-llm-router"}', (s) => (errorsOf(s).unauthorized ?? 0) >= 2));
    expect(Object.keys(errors).sort()).toEqual(['model_not_found', 'unauthorized']);
    expect(errors.model_not_found).toBe(1);
    await prometheus.until('http_server_request_duration_seconds_count{job="secure-llm-router", http_route="/metrics", http_response_status_code="401"}', (s) => Number(s[0]?.value[1]) >= 1);
    // The scrape itself is in flight (and the other job's refused one may be).
    const [active] = await prometheus.query('http_server_active_requests');
    expect(['1', '2']).toContain(active?.value[1]);
  });

  it('measures LLM requests, time to first token and the gateway overhead by provider', async () => {
    const served = bySeries(await prometheus.query('gen_ai_server_request_duration_seconds_count'), 'gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'error_type');
    expect(served).toEqual({
      'embeddings gcp.gemini gemini-embedding-001 ': 1,
      'chat groq openai/gpt-oss-20b ': 6,
      'chat groq other 404': 1,
    });
    expect(bySeries(await prometheus.query('gen_ai_server_time_to_first_token_seconds_count'), 'gen_ai_provider_name', 'gen_ai_request_model')).toEqual({ 'groq openai/gpt-oss-20b': 1 });
    const overhead = bySeries(await prometheus.query('llm_router_gateway_overhead_seconds_count'), 'gen_ai_operation_name');
    expect(overhead).toEqual({ chat: 7, embeddings: 1 });
    // Less than the whole requests' time: the providers' part is left out.
    const [overheadSum] = await prometheus.query('sum(llm_router_gateway_overhead_seconds_sum)');
    const [totalSum] = await prometheus.query('sum(gen_ai_server_request_duration_seconds_sum)');
    expect(Number(overheadSum?.value[1])).toBeLessThan(Number(totalSum?.value[1]));
  });

  it('counts tokens per provider and per key name, never the key', async () => {
    const byKey = bySeries(await prometheus.query('llm_router_client_tokens_total'), 'client', 'gen_ai_provider_name', 'gen_ai_token_type');
    expect(Object.keys(byKey).sort()).toEqual(['key-1 groq input', 'key-1 groq output', 'key-2 groq input', 'key-2 groq output']);
    for (const value of Object.values(byKey)) expect(value).toBeGreaterThan(0);
    const usage = bySeries(await prometheus.query('gen_ai_client_token_usage_count{gen_ai_operation_name="chat"}'), 'gen_ai_provider_name', 'gen_ai_token_type');
    expect(usage).toEqual({ 'groq input': 6, 'groq output': 6 });
    expect(exposition).not.toContain(KEY);
    expect(exposition).not.toContain(OTHER_KEY);
    expect(exposition).not.toContain('the prompt');
    expect(exposition).not.toContain('a-model-nobody-configured');
  });

  it('reads the breakers when it scrapes', async () => {
    const states = bySeries(await prometheus.query('llm_router_breaker_state == 1'), 'gen_ai_provider_name', 'gen_ai_request_model', 'state');
    expect(states).toEqual({
      'gcp.gemini gemini-flash-lite-latest cooling_down': 1,
      'gcp.gemini gemini-embedding-001 ready': 1,
      'groq openai/gpt-oss-20b ready': 1,
      'openrouter openrouter/free cooling_down': 1,
    });
    expect(await prometheus.query('llm_router_providers_usable')).toEqual([expect.objectContaining({ value: [expect.any(Number), '1'] })]);
    const [remaining] = await prometheus.query('llm_router_breaker_cooldown_remaining_seconds{gen_ai_provider_name="openrouter"}');
    expect(Number(remaining?.value[1])).toBeGreaterThan(500);
  });

  it('exports the process metrics', async () => {
    expect(await prometheus.query('process_resident_memory_bytes{job="secure-llm-router"}')).toHaveLength(1);
    expect(await prometheus.query('nodejs_eventloop_lag_p99_seconds{job="secure-llm-router"}')).toHaveLength(1);
  });

  it('loads the shipped alert rules and evaluates each without error', async () => {
    const rules = await prometheus.api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> }>('/api/v1/rules');
    const loaded = rules.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual(
      ['LlmRouterBreakerOpenLong', 'LlmRouterDown', 'LlmRouterGatewayOverheadHigh', 'LlmRouterHighErrorRatio', 'LlmRouterNoProviderUsable', 'LlmRouterProviderQuotaExhausted'],
    );
    // The refused scrape job is down: its alert is pending (it would fire after 2 minutes).
    const pending = await prometheus.until('ALERTS{alertname="LlmRouterDown"}', (s) => s.length > 0);
    expect(pending.map((a) => [a.metric.job, a.metric.alertstate])).toEqual([['secure-llm-router-without-token', 'pending']]);
    const evaluated = (await prometheus.api<typeof rules>('/api/v1/rules')).groups.flatMap((g) => g.rules);
    for (const rule of evaluated) expect(rule.health, `${rule.name}: ${rule.lastError ?? ''}`).toBe('ok');
  });

  describe('the Grafana dashboard', () => {
    const targets = dashboard.panels.flatMap((panel) => panel.targets.map((t) => [panel.title, t.expr] as const));

    it('has the panels the README describes', () => {
      expect(dashboard.panels.length).toBeGreaterThanOrEqual(12);
      const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
      for (const panel of dashboard.panels) expect(readme, panel.title).toContain(`**${panel.title}**`);
    });

    it.each(targets)('%s: names only metrics the gateway exports', (_title, expr) => {
      const families = new Set([...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name ?? ''])));
      const names = metricNames(expr);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(families.has(name), name).toBe(true);
    });

    it.each(targets)('%s: is valid PromQL with data behind it', async (_title, expr) => {
      const samples = await prometheus.until(promql(expr), (s) => s.length > 0);
      expect(samples.length).toBeGreaterThan(0);
    });
  });
});

describe.runIf(runWithPrometheus)('promtool on the shipped files', () => {
  it('checks the scrape config and the rules it loads', async () => {
    const { stdout } = await run(PROMTOOL, ['check', 'config', `${DEPLOY}prometheus/prometheus.yml`]);
    expect(stdout).toContain('SUCCESS: 1 rule files found');
    expect(stdout).toContain('is valid prometheus config file syntax');
    expect((await run(PROMTOOL, ['check', 'rules', `${DEPLOY}prometheus/alerts.yml`])).stdout).toContain('SUCCESS: 6 rules found');
  });

  it('runs the rule tests, which fire every alert on its condition', async () => {
    const { stdout } = await run(PROMTOOL, ['test', 'rules', `${DEPLOY}prometheus/alerts.test.yml`]);
    expect(stdout).toContain('SUCCESS');
    const rules = parse(readFileSync(`${DEPLOY}prometheus/alerts.yml`, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string }> }> };
    const tests = parse(readFileSync(`${DEPLOY}prometheus/alerts.test.yml`, 'utf8')) as {
      tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test);
    for (const { alert } of rules.groups.flatMap((g) => g.rules)) {
      expect(cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0), `${alert} fires in a test`).toBe(true);
    }
  });

  it('fails a rule test whose expectation is wrong (so a pass means something)', async () => {
    const wrong = readFileSync(`${DEPLOY}prometheus/alerts.test.yml`, 'utf8').replace("instance: 'a:7860' }", "instance: 'b:7860' }");
    const { mkdtempSync, writeFileSync, copyFileSync, rmSync } = await import('node:fs');
    const folder = mkdtempSync('/tmp/alerts-');
    try {
      copyFileSync(`${DEPLOY}prometheus/alerts.yml`, `${folder}/alerts.yml`);
      writeFileSync(`${folder}/alerts.test.yml`, wrong);
      await expect(run(PROMTOOL, ['test', 'rules', `${folder}/alerts.test.yml`])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('FAILED') });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
