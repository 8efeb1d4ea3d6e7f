// npm run smoke: after setting real keys, one short whole call and one stream to each configured
// provider, straight through the gateway's adapters (built from the environment by the registry,
// as the gateway builds them; no HTTP gateway, no cascade, no retry), and a table of what each
// did. Reads .env like the server. Exit code 0 when every configured provider answered, else 1;
// 0 too when none is configured, after saying which variables to set. Never prints a key.
import dotenv from 'dotenv';
import { ConfigError, loadConfig, type Config, type ProviderSettings } from '../src/config.ts';
import { ProviderError } from '../src/providers/provider-error.ts';
import { BUILT_IN_PROVIDERS, envPrefix, isConfigured } from '../src/providers/registry.ts';
import type { CompletionRequest, Provider, TokenUsage } from '../src/providers/types.ts';

/** One call's limit: generous, since this is about whether the provider answers, not how fast. */
const CALL_TIMEOUT_MS = 30_000;
const REQUEST: CompletionRequest = {
  messages: [{ role: 'user', content: 'In one short sentence: what is the capital of France?' }],
  // Room for a reasoning model to think a little and still answer.
  maxTokens: 256,
};

interface Row {
  provider: string;
  model: string;
  call: 'whole' | 'stream';
  outcome: string;
  firstTokenMs: string;
  totalMs: string;
  tokens: string;
  finish: string;
  /** Why a call failed, in the gateway's own words (never an upstream message). */
  detail?: string;
}

async function main(): Promise<number> {
  dotenv.config({ quiet: true });
  const env = { ...process.env };
  // The smoke serves no clients: a placeholder stands in for their keys when none are set.
  env.API_KEYS ??= 'smoke-placeholder-client-key';
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(redact(error.message, env));
    return 1;
  }
  const configured = config.providerOrder.map((name) => config.providers.get(name)).filter((s): s is ProviderSettings => s !== undefined && isConfigured(s));
  if (configured.length === 0) {
    const keys = BUILT_IN_PROVIDERS.map((row) => `${envPrefix(row.name)}_API_KEY`).join(', ');
    console.log(`No provider is configured, so there is nothing to check. Set at least one of ${keys} (or EXTRA_PROVIDERS for a model server of your own) in the environment or in .env, then run npm run smoke again.`);
    return 0;
  }

  const rows: Row[] = [];
  for (const settings of configured) {
    const provider = await settings.row.create(settings);
    try {
      rows.push(await whole(provider), await streamed(provider));
    } finally {
      await provider.close();
    }
  }
  printTable(rows, env);
  const failed = rows.filter((row) => row.outcome !== 'ok');
  for (const row of failed) console.log(redact(`${row.provider} (${row.call}): ${row.detail ?? row.outcome}`, env));
  console.log(failed.length === 0 ? `Every configured provider answered (${configured.length}).` : `${failed.length} of ${rows.length} calls failed.`);
  return failed.length === 0 ? 0 : 1;
}

async function whole(provider: Provider): Promise<Row> {
  const started = performance.now();
  try {
    const answer = await provider.complete(REQUEST, AbortSignal.timeout(CALL_TIMEOUT_MS));
    return { ...base(provider, 'whole', answer.model), outcome: 'ok', firstTokenMs: '-', totalMs: ms(started), tokens: tokens(answer.usage), finish: answer.finishReason };
  } catch (error) {
    return failedRow(provider, 'whole', started, error);
  }
}

async function streamed(provider: Provider): Promise<Row> {
  const started = performance.now();
  let firstToken: string | undefined;
  let model: string | undefined;
  let usage: TokenUsage | undefined;
  let finish: string | undefined;
  try {
    for await (const chunk of provider.stream(REQUEST, AbortSignal.timeout(CALL_TIMEOUT_MS))) {
      if (chunk.text !== '') firstToken ??= ms(started);
      model ??= chunk.model;
      usage = chunk.usage ?? usage;
      finish = chunk.finishReason ?? finish;
    }
    return { ...base(provider, 'stream', model), outcome: 'ok', firstTokenMs: firstToken ?? '-', totalMs: ms(started), tokens: tokens(usage), finish: finish ?? '-' };
  } catch (error) {
    return { ...failedRow(provider, 'stream', started, error), firstTokenMs: firstToken ?? '-' };
  }
}

/** The configured model, and the one that answered when the provider names another (openrouter/free picks one). */
function base(provider: Provider, call: Row['call'], answered: string | undefined): Pick<Row, 'provider' | 'model' | 'call'> {
  const model = answered !== undefined && answered !== provider.model ? `${provider.model} -> ${answered}` : provider.model;
  return { provider: provider.name, model, call };
}

function failedRow(provider: Provider, call: Row['call'], started: number, error: unknown): Row {
  const outcome = error instanceof ProviderError ? [error.kind, error.status].filter((part) => part !== undefined).join(' ') : 'error';
  const detail = error instanceof ProviderError ? error.message : `${(error as Error)?.name ?? 'Error'} (not a provider error: a bug worth reporting)`;
  return { ...base(provider, call, undefined), outcome, firstTokenMs: '-', totalMs: ms(started), tokens: '-', finish: '-', detail };
}

const ms = (since: number): string => String(Math.round(performance.now() - since));

/** Prompt and completion tokens, with the reasoning share when there was any. */
function tokens(usage: TokenUsage | undefined): string {
  if (usage === undefined) return '-';
  const reasoning = usage.reasoningTokens ? ` (${usage.reasoningTokens} reasoning)` : '';
  return `${usage.promptTokens ?? '?'} in, ${usage.completionTokens ?? '?'} out${reasoning}`;
}

function printTable(rows: Row[], env: Record<string, string | undefined>): void {
  const header = ['provider', 'model', 'call', 'result', 'first token ms', 'total ms', 'tokens', 'finish'];
  const cells = rows.map((row) => [row.provider, row.model, row.call, row.outcome, row.firstTokenMs, row.totalMs, row.tokens, row.finish]);
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((line) => (line[i] ?? '').length)));
  const line = (values: string[]) => values.map((value, i) => value.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  console.log(redact([line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line), ''].join('\n'), env));
}

/** Belt and braces: no configured key ever reaches the output, whatever a message held. */
function redact(text: string, env: Record<string, string | undefined>): string {
  let out = text;
  for (const [name, value] of Object.entries(env)) {
    if (/_API_KEY$|^API_KEYS$/.test(name) && value !== undefined && value.trim().length >= 4) {
      for (const key of value.split(',').map((k) => k.trim()).filter((k) => k.length >= 4)) out = out.split(key).join('***');
    }
  }
  return out;
}

process.exitCode = await main();
