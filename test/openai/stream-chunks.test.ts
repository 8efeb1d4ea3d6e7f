// The stream's chunk text is built from pieces serialised once; it must be, byte for byte, what
// JSON.stringify gives for the chunk object OpenAI documents, whatever the text holds.
import { describe, expect, it } from 'vitest';
import { StreamChunks, type StreamIdentity } from '../../src/routes/openai/openai-mapping.ts';

const stream: StreamIdentity = { id: 'chatcmpl-0123abcd', created: 1_795_000_000, model: 'openrouter/meta-llama/llama-3.3-70b-instruct:free', includeUsage: false };

function chunkObject(identity: StreamIdentity, delta: object, finishReason: string | null) {
  return {
    id: identity.id,
    object: 'chat.completion.chunk',
    created: identity.created,
    model: identity.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(identity.includeUsage && { usage: null }),
  };
}

const TEXTS = ['Paris', '', 'a "quoted" \\ back\\slash', 'line\nbreak\r\ttab', '</script><!--', 'é ü 東京 🚀', '\u2028\u2029', '\ud800 lone surrogate', '\u0000\u001f'];

describe('StreamChunks', () => {
  for (const includeUsage of [false, true]) {
    const identity = { ...stream, includeUsage };
    const chunks = new StreamChunks(identity);

    it(`writes text chunks exactly as JSON.stringify would (include_usage ${includeUsage})`, () => {
      for (const text of TEXTS) {
        const line = chunks.text(text);
        expect(line).toBe(JSON.stringify(chunkObject(identity, { content: text }, null)));
        // A lone surrogate goes out escaped (well-formed JSON) and reads back as itself.
        expect(JSON.parse(line).choices[0].delta.content).toBe(text);
      }
    });

    it(`writes the role, finish and usage chunks exactly (include_usage ${includeUsage})`, () => {
      expect(chunks.role()).toBe(JSON.stringify(chunkObject(identity, { role: 'assistant', content: '' }, null)));
      for (const reason of ['stop', 'length', 'content_filter'] as const) {
        expect(chunks.finish(reason)).toBe(JSON.stringify(chunkObject(identity, {}, reason)));
      }
      const usage = { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19, completion_tokens_details: { reasoning_tokens: 5 } };
      const usageChunk = { id: identity.id, object: 'chat.completion.chunk', created: identity.created, model: identity.model, choices: [], usage };
      expect(chunks.usage({ promptTokens: 12, completionTokens: 7, totalTokens: 19, reasoningTokens: 5 })).toBe(JSON.stringify(usageChunk));
      expect(JSON.parse(chunks.usage(undefined)).usage).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, completion_tokens_details: { reasoning_tokens: 0 } });
    });
  }

  it('escapes a model name or id that needs it', () => {
    const odd = { ...stream, id: 'chatcmpl-"x"', model: 'groq/odd\\"name' };
    expect(new StreamChunks(odd).text('hi')).toBe(JSON.stringify(chunkObject(odd, { content: 'hi' }, null)));
  });
});
