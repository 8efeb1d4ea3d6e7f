// The documented response contract, as checks that return a list of problems (empty when the
// response keeps the contract). Suites that send thousands of requests collect the problems and
// report the first few, instead of stopping at the first failed expect.
import { BUILT_IN_NAMES as PROVIDER_NAMES } from '../../src/providers/registry.ts';
import { ERROR_TABLE } from '../../src/errors.ts';

export type Problems = string[];

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isInt = (value: unknown) => Number.isInteger(value);
const nullableInt = (value: unknown) => value === null || isInt(value);

/** Error bodies under /v1/ use the OpenAI shape; everywhere else ours. */
export function usesOpenAiErrors(path: string): boolean {
  return path.startsWith('/v1/');
}

/**
 * The documented error body: `{ error: { code, message, request_id, details? } }`, or under /v1/
 * `{ error: { message, type, code, param, request_id } }`; the code matches the status and the
 * request id matches the x-request-id header.
 */
export function errorBodyProblems(status: number, requestIdHeader: string | undefined, body: unknown, openAi: boolean): Problems {
  const problems: Problems = [];
  if (!isObject(body) || !isObject(body.error)) return [`status ${status}: not an error body: ${preview(body)}`];
  const extraTop = Object.keys(body).filter((key) => key !== 'error');
  if (extraTop.length > 0) problems.push(`unexpected top-level fields ${extraTop.join(',')}`);
  const { error } = body;
  const code = error.code;
  if (typeof code !== 'string' || !(code in ERROR_TABLE)) {
    problems.push(`unknown error code ${preview(code)}`);
  } else if (ERROR_TABLE[code as keyof typeof ERROR_TABLE].status !== status) {
    problems.push(`code ${code} sent with status ${status}`);
  }
  if (typeof error.message !== 'string' || error.message === '') problems.push('error.message is not a non-empty string');
  if (typeof requestIdHeader !== 'string' || requestIdHeader === '') problems.push('no x-request-id header');
  else if (error.request_id !== requestIdHeader) problems.push(`request_id ${preview(error.request_id)} differs from the header ${requestIdHeader}`);
  const allowed = openAi ? ['message', 'type', 'code', 'param', 'request_id'] : ['code', 'message', 'request_id', 'details'];
  const extra = Object.keys(error).filter((key) => !allowed.includes(key));
  if (extra.length > 0) problems.push(`unexpected error fields ${extra.join(',')}`);
  if (openAi) {
    if (typeof error.type !== 'string') problems.push('error.type is not a string');
    if (!(error.param === null || typeof error.param === 'string')) problems.push('error.param is not a string or null');
  } else if (error.details !== undefined) {
    const details = error.details;
    const valid = Array.isArray(details) && details.every((d) => isObject(d) && typeof d.field === 'string' && typeof d.message === 'string');
    if (!valid) problems.push('error.details is not a list of { field, message }');
  }
  return problems.map((problem) => `status ${status}: ${problem}`);
}

/** The documented 200 body of POST /query. */
export function queryAnswerProblems(body: unknown, requestIdHeader: string | undefined, providerHeader: string | undefined): Problems {
  if (!isObject(body)) return [`not a JSON object: ${preview(body)}`];
  const problems: Problems = [];
  const providers: readonly string[] = PROVIDER_NAMES;
  if (typeof body.response !== 'string' || body.response === '') problems.push('response is not a non-empty string');
  if (typeof body.provider !== 'string' || !providers.includes(body.provider)) problems.push(`provider ${preview(body.provider)}`);
  if (providerHeader !== body.provider) problems.push(`x-llm-provider ${providerHeader} differs from provider ${preview(body.provider)}`);
  if (typeof body.model !== 'string' || body.model === '') problems.push('model is not a non-empty string');
  if (!['stop', 'length', 'content_filter', 'other'].includes(body.finish_reason as string)) problems.push(`finish_reason ${preview(body.finish_reason)}`);
  if (!isInt(body.latency_ms) || (body.latency_ms as number) < 0) problems.push(`latency_ms ${preview(body.latency_ms)}`);
  if (body.request_id !== requestIdHeader) problems.push('request_id differs from the x-request-id header');
  const usage = body.usage;
  if (!isObject(usage) || !nullableInt(usage.prompt_tokens) || !nullableInt(usage.completion_tokens) || !nullableInt(usage.total_tokens)) {
    problems.push(`usage ${preview(usage)}`);
  }
  const attempts = body.attempts;
  if (!Array.isArray(attempts) || attempts.length === 0) {
    problems.push('attempts is not a non-empty list');
  } else {
    const last = attempts.at(-1) as Json | undefined;
    if (last?.outcome !== 'ok' || last.provider !== body.provider) problems.push(`the last attempt is not the answering provider's success: ${preview(last)}`);
    const wellFormed = attempts.every(
      (a) => isObject(a) && providers.includes(a.provider as string) && typeof a.outcome === 'string' && isInt(a.latency_ms) && (a.status === undefined || isInt(a.status)),
    );
    if (!wellFormed) problems.push(`malformed attempts ${preview(attempts)}`);
  }
  return problems.map((problem) => `200 /query: ${problem}`);
}

/** An OpenAI `chat.completion`, checked on the fields clients rely on. */
export function chatCompletionProblems(body: unknown): Problems {
  if (!isObject(body)) return [`200 chat completion: not a JSON object: ${preview(body)}`];
  const problems: Problems = [];
  if (body.object !== 'chat.completion') problems.push(`object ${preview(body.object)}`);
  if (typeof body.id !== 'string' || body.id === '') problems.push('id is not a non-empty string');
  if (typeof body.model !== 'string' || body.model === '') problems.push('model is not a non-empty string');
  if (!isInt(body.created)) problems.push('created is not an integer');
  const choice = Array.isArray(body.choices) ? (body.choices[0] as unknown) : undefined;
  if (!isObject(choice) || !isObject(choice.message)) {
    problems.push(`no first choice with a message: ${preview(body.choices)}`);
  } else {
    if (choice.message.role !== 'assistant') problems.push(`message.role ${preview(choice.message.role)}`);
    if (typeof choice.message.content !== 'string' || choice.message.content === '') problems.push('message.content is not a non-empty string');
    if (typeof choice.finish_reason !== 'string') problems.push(`finish_reason ${preview(choice.finish_reason)}`);
  }
  return problems.map((problem) => `200 chat completion: ${problem}`);
}

export interface StreamVerdict {
  /** 'answered': content, a finish reason and [DONE]; 'error_event': ended with an error event. */
  outcome: 'answered' | 'error_event' | 'broken';
  problems: Problems;
}

/** The `data:` payloads of an SSE body, comments and other fields left out. */
export function sseData(text: string): string[] {
  return text
    .split(/\r\n\r\n|\n\n|\r\r/)
    .map((event) =>
      event
        .split(/\r\n|\n|\r/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n'),
    )
    .filter((data) => data !== '');
}

/**
 * A streamed chat completion ends in one of two documented ways: an answer (content deltas,
 * a finish reason, then `data: [DONE]`), or, when the providers fail after the stream started,
 * an event carrying an OpenAI-style `error`. Anything else is broken.
 */
export function chatStreamVerdict(text: string): StreamVerdict {
  const problems: Problems = [];
  const data = sseData(text);
  let content = '';
  let finished = false;
  let errorEvent = false;
  for (const [index, payload] of data.entries()) {
    if (payload === '[DONE]') {
      if (index !== data.length - 1) problems.push('events after [DONE]');
      continue;
    }
    let event: unknown;
    try {
      event = JSON.parse(payload);
    } catch {
      problems.push(`an event is not JSON: ${preview(payload)}`);
      continue;
    }
    if (!isObject(event)) {
      problems.push(`an event is not an object: ${preview(payload)}`);
      continue;
    }
    if (event.error !== undefined) {
      errorEvent = true;
      const error = event.error;
      if (!isObject(error) || typeof error.message !== 'string') problems.push(`an error event without a message: ${preview(payload)}`);
      continue;
    }
    if (event.object !== 'chat.completion.chunk') problems.push(`a chunk with object ${preview(event.object)}`);
    const choice = Array.isArray(event.choices) ? (event.choices[0] as unknown) : undefined;
    if (isObject(choice)) {
      const delta = isObject(choice.delta) ? choice.delta : {};
      if (typeof delta.content === 'string') content += delta.content;
      if (typeof choice.finish_reason === 'string') finished = true;
    }
  }
  const done = data.at(-1) === '[DONE]';
  if (errorEvent) return { outcome: 'error_event', problems };
  if (done && finished && content !== '') return { outcome: 'answered', problems };
  problems.push(`the stream ended without an answer or an error event (done=${done}, finished=${finished}, ${content.length} characters)`);
  return { outcome: 'broken', problems: problems.map((problem) => `stream: ${problem}`) };
}

/** The secrets in `secrets` that occur in `text`. */
export function leakedSecrets(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((secret) => secret.length > 0 && text.includes(secret));
}

export function preview(value: unknown, length = 160): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > length ? `${text.slice(0, length)}...` : text;
}
