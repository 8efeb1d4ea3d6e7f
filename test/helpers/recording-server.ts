// A loopback server that records every request (method, path, query, headers, JSON body) and
// answers the smallest valid answer in one provider's shape, whole or streamed: enough for any
// client, ours or a provider's official SDK, to finish its call, so the requests can be compared.
import { sendJson, startFakeServer, startSse, type FakeProviderServer } from '../../src/simulator/fake-server.ts';

export type AnswerShape = 'gemini' | 'chat-completions';

export function startRecordingServer(shape: AnswerShape): Promise<FakeProviderServer> {
  return startFakeServer(`recorder-${shape}`, ({ request, res }) => {
    const streamed = shape === 'gemini' ? request.path.endsWith(':streamGenerateContent') : (request.body as { stream?: unknown } | undefined)?.stream === true;
    const answer = shape === 'gemini' ? geminiAnswer() : chatAnswer(streamed);
    if (!streamed) return sendJson(res, 200, answer);
    startSse(res);
    res.write(`data: ${JSON.stringify(answer)}\n\n`);
    if (shape === 'chat-completions') res.write('data: [DONE]\n\n');
    res.end();
  });
}

function geminiAnswer() {
  return {
    candidates: [{ content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 },
    modelVersion: 'recorded',
  };
}

function chatAnswer(streamed: boolean) {
  const usage = { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 };
  if (streamed) {
    return {
      id: 'chatcmpl-recorded',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'recorded',
      choices: [{ index: 0, delta: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage,
    };
  }
  return {
    id: 'chatcmpl-recorded',
    object: 'chat.completion',
    created: 1,
    model: 'recorded',
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
    usage,
  };
}
