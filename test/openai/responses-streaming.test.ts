// POST /v1/responses with stream: true, read by the official openai SDK (its event stream and its
// responses.stream helper) and byte by byte. The cascade applies until the first delta; after it,
// a failure ends with error and response.failed, never response.completed.
import OpenAI, { APIError } from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { simulatedAnswer, toDeltas } from '../../src/simulator/fake-server.ts';
import { json, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { namedEvents, post, sdk } from './helpers.ts';

const GEMINI_MODEL = 'gemini-flash-lite-latest';
const GEMINI_ANSWER = simulatedAnswer('gemini', GEMINI_MODEL, 'Say hello');
const GROQ_ANSWER = simulatedAnswer('groq', 'openai/gpt-oss-20b', 'Say hello');
const STREAM = { model: 'auto', input: 'Say hello', stream: true as const };

const OPENING = ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added'];
const CLOSING = ['response.output_text.done', 'response.content_part.done', 'response.output_item.done'];

/** Reads an SDK event stream to the end: the events, the text, and the error it ended with. */
async function drain(stream: AsyncIterable<OpenAI.Responses.ResponseStreamEvent>) {
  const events: OpenAI.Responses.ResponseStreamEvent[] = [];
  let text = '';
  let error: unknown;
  try {
    for await (const event of stream) {
      events.push(event);
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
  } catch (thrown) {
    error = thrown;
  }
  return { events, text, error };
}

describe('streamed responses', () => {
  // A gateway per test: failures cool providers down, and that must not leak into the next test.
  let gateway: TestGateway;
  let client: OpenAI;
  beforeEach(async () => {
    gateway = await startGateway({ FIRST_TOKEN_TIMEOUT_MS: '300', PROVIDER_TIMEOUT_MS: '400', REQUEST_TIMEOUT_MS: '1500' });
    client = sdk(gateway);
  });
  afterEach(() => gateway.close());

  it('create({stream: true}) yields the standard event sequence, numbered, that assembles to the answer', async () => {
    const { data: stream, response } = await client.responses.create(STREAM).withResponse();
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    const { events, text, error } = await drain(stream);
    expect(error).toBeUndefined();
    expect(text).toBe(GEMINI_ANSWER);
    const deltas = toDeltas(GEMINI_ANSWER).length;
    expect(events.map((e) => e.type)).toEqual([...OPENING, ...Array(deltas).fill('response.output_text.delta'), ...CLOSING, 'response.completed']);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_e, i) => i));

    const created = events[0] as OpenAI.Responses.ResponseCreatedEvent;
    expect(created.response).toMatchObject({ status: 'in_progress', output: [], usage: null, model: `gemini/${GEMINI_MODEL}` });
    expect(created.response.id).toMatch(/^resp_[0-9a-f]{32}$/);
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response.id).toBe(created.response.id);
    expect(completed.response.status).toBe('completed');
    expect(completed.response.output).toEqual([
      { id: expect.stringMatching(/^msg_/), type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: GEMINI_ANSWER, annotations: [], logprobs: [] }] },
    ]);
    const usage = completed.response.usage!;
    expect(usage.input_tokens).toBeGreaterThan(0);
    expect(usage.output_tokens).toBeGreaterThan(0);
    expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);
    // Every event about the message names the same item.
    const itemId = completed.response.output[0]!.id;
    for (const event of events) if ('item_id' in event) expect(event.item_id).toBe(itemId);
  });

  it('responses.stream() assembles the final response, firing its delta events on the way', async () => {
    const stream = client.responses.stream({ model: 'auto', input: 'Say hello' });
    let fromDeltas = '';
    stream.on('response.output_text.delta', (event) => {
      fromDeltas += event.delta;
    });
    const final = await stream.finalResponse();
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe(GEMINI_ANSWER);
    expect(fromDeltas).toBe(GEMINI_ANSWER);
    expect(final.usage?.output_tokens).toBeGreaterThan(0);
  });

  it('frames every event as `event:` and `data:` lines, with no-buffering headers and no [DONE]', async () => {
    const response = await post(gateway, '/responses', STREAM);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    expect(Number(response.headers.get('x-ratelimit-remaining'))).toBeGreaterThan(0);
    const body = await response.text();
    expect(body).not.toContain('[DONE]');
    const events = namedEvents(body);
    expect(events.at(-1).type).toBe('response.completed');
    expect(events.find((e) => e.type === 'response.output_text.done').text).toBe(GEMINI_ANSWER);
    const requestId = response.headers.get('x-request-id');
    await expect
      .poll(() => gateway.logs.find((line) => line.msg === 'request completed' && line.request_id === requestId))
      .toMatchObject({ status: 200, provider: 'gemini', url: '/v1/responses' });
  });

  it('ends a length cut with response.incomplete, reason max_output_tokens', async () => {
    const { events, text, error } = await drain(await client.responses.create({ ...STREAM, max_output_tokens: 2 }));
    expect(error).toBeUndefined();
    expect(text).toBe(GEMINI_ANSWER.slice(0, 8));
    expect(events.map((e) => e.type)).not.toContain('response.completed');
    const last = events.at(-1) as OpenAI.Responses.ResponseIncompleteEvent;
    expect(last.type).toBe('response.incomplete');
    expect(last.response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(events.find((e) => e.type === 'response.output_item.done')).toMatchObject({ item: { status: 'incomplete' } });

    const final = await client.responses.stream({ model: 'auto', input: 'Say hello', max_output_tokens: 2 }).finalResponse();
    expect(final.status).toBe('incomplete');
    expect(final.output_text).toBe(GEMINI_ANSWER.slice(0, 8));
  });

  describe('before the first delta', () => {
    it('falls back when the first provider is down, and the client never sees it', async () => {
      gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
      const { data: stream, response } = await client.responses.create(STREAM).withResponse();
      expect(response.headers.get('x-llm-provider')).toBe('groq');
      const { events, text, error } = await drain(stream);
      expect(error).toBeUndefined();
      expect(text).toBe(GROQ_ANSWER);
      expect(events[0]?.sequence_number).toBe(0);
      expect(events.at(-1)?.type).toBe('response.completed');
      expect(gateway.fakes.gemini.requests).toHaveLength(2);
    });

    it('answers a plain JSON 503 when every provider fails', async () => {
      for (const fake of Object.values(gateway.fakes)) fake.setDefault({ kind: 'error', status: 500 });
      const error = await client.responses.create(STREAM).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect(error).toMatchObject({ status: 503, code: 'providers_unavailable' });

      const response = await post(gateway, '/responses', STREAM);
      expect(response.status).toBe(503);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await json(response)).error).toMatchObject({ code: 'providers_unavailable', type: 'service_unavailable_error', request_id: response.headers.get('x-request-id') });
    });
  });

  describe('after the first delta', () => {
    it('a stream cut mid-way raises in the SDK and ends with error then response.failed, never response.completed', async () => {
      gateway.fakes.gemini.setDefault({ kind: 'stream_cut', afterChunks: 2 });
      const { data: stream, response } = await client.responses.create(STREAM).withResponse();
      expect(response.headers.get('x-llm-provider')).toBe('gemini');
      const { events, text, error } = await drain(stream);
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).status).toBeUndefined();
      expect((error as APIError).code).toBe('providers_unavailable');
      expect((error as APIError).message).toMatch(/incomplete/);
      expect(toDeltas(text)).toHaveLength(2);
      expect(events.map((e) => e.type)).not.toContain('response.completed');

      const raw = await post(gateway, '/responses', STREAM);
      expect(raw.status).toBe(200);
      const rawEvents = namedEvents(await raw.text());
      const types = rawEvents.map((e) => e.type);
      expect(types.slice(-2)).toEqual(['error', 'response.failed']);
      expect(types).not.toContain('response.completed');
      expect(types).not.toContain('response.output_text.done');
      const [errorEvent, failed] = rawEvents.slice(-2);
      expect(errorEvent).toEqual({
        type: 'error',
        code: 'providers_unavailable',
        message: expect.stringMatching(/incomplete/),
        param: null,
        error: {
          message: expect.stringMatching(/incomplete/),
          type: 'service_unavailable_error',
          code: 'providers_unavailable',
          param: null,
          request_id: raw.headers.get('x-request-id'),
        },
        sequence_number: rawEvents.length - 2,
      });
      expect(failed.sequence_number).toBe(rawEvents.length - 1);
      expect(failed.response).toMatchObject({ status: 'failed', error: { code: 'providers_unavailable' }, usage: null });
      expect(failed.response.output[0]).toMatchObject({ status: 'incomplete', content: [{ text: toDeltas(GEMINI_ANSWER).slice(0, 2).join('') }] });
      expect(gateway.fakes.groq.requests).toHaveLength(0);
      expect(gateway.fakes.openrouter.requests).toHaveLength(0);
    });

    it('responses.stream() rejects its final response when the stream is cut', async () => {
      gateway.fakes.gemini.setDefault({ kind: 'stream_cut', afterChunks: 2 });
      const error = await client.responses.stream({ model: 'auto', input: 'Say hello' }).finalResponse().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).code).toBe('providers_unavailable');
    });
  });

  it('a client that stops reading cancels the upstream stream', async () => {
    const local = await startGateway({ PROVIDER_TIMEOUT_MS: '3000', REQUEST_TIMEOUT_MS: '4000', FIRST_TOKEN_TIMEOUT_MS: '1000' });
    try {
      local.fakes.gemini.setDefault({ kind: 'trickle', delayMs: 1500 });
      const stream = await sdk(local).responses.create(STREAM);
      for await (const event of stream) {
        // Leaving the loop aborts the SDK's request, as a user's break would.
        if (event.type === 'response.output_text.delta') break;
      }
      await expect.poll(() => local.fakes.gemini.abortedRequests, { timeout: 1200, interval: 20 }).toBe(1);
      expect(local.fakes.gemini.requests).toHaveLength(1);
      await expect
        .poll(() => local.logs.find((line) => line.status === 499))
        .toMatchObject({ msg: 'client disconnected before the answer was complete', provider: 'gemini', url: '/v1/responses' });
    } finally {
      await local.close();
    }
  });
});
