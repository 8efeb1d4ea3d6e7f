// A fast upstream for the benchmark, speaking both wires the gateway calls: Chat Completions at
// POST /api/v1/chat/completions (OpenRouter's path) and /openai/v1/chat/completions (Groq's), and
// Gemini's POST /v1beta/models/{id}:generateContent and :streamGenerateContent?alt=sse. Each is
// answered with one prebuilt JSON answer or, when streaming, a short server-sent event stream. It
// does as little as it can, so what the benchmark measures is the hop in front of it.
//
// Runs as its own process (started by bench/run.ts through child_process.fork) and reports its
// port over IPC. Settings come from the environment:
//   FAKE_DELAY_MS        wait before answering (default 0)
//   FAKE_STREAM_CHUNKS   content chunks in a stream (default 8)
//   FAKE_STREAM_GAP_MS   pause between stream chunks (default 2; 0 writes them back to back)
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, type Listening } from './listen.ts';

const PATHS = new Set(['/api/v1/chat/completions', '/openai/v1/chat/completions']);
const GEMINI_PATH = /^\/v1beta\/models\/[^/:]+:(generateContent|streamGenerateContent)$/;
const MODEL = 'bench/fake-model';

export interface FakeSettings {
  delayMs: number;
  streamChunks: number;
  streamGapMs: number;
}

const ANSWER = 'Paris is the capital of France. It sits on the Seine and has about two million inhabitants.';

const COMPLETION = Buffer.from(
  JSON.stringify({
    id: 'gen-bench-0001',
    object: 'chat.completion',
    created: 1_767_225_600,
    model: MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: ANSWER }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 16, completion_tokens: 22, total_tokens: 38 },
  }),
);
const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': String(COMPLETION.length) };
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

// Gemini's shapes: a GenerateContentResponse whole, or one per event with the finish reason and
// usage on the last (as Gemini sends them, each event ends with CRLF CRLF).
const geminiResponse = (text: string, last: boolean) => ({
  candidates: [{ content: { role: 'model', parts: [{ text }] }, ...(last ? { finishReason: 'STOP' } : {}), index: 0 }],
  ...(last ? { usageMetadata: { promptTokenCount: 16, candidatesTokenCount: 22, totalTokenCount: 38 } } : {}),
  modelVersion: MODEL,
});
const GEMINI_ANSWER = Buffer.from(JSON.stringify(geminiResponse(ANSWER, true)));
const GEMINI_JSON_HEADERS = { 'content-type': 'application/json; charset=UTF-8', 'content-length': String(GEMINI_ANSWER.length) };

/** Gemini's events for one streamed answer, each already framed. */
export function geminiStreamEvents(chunks: number): string[] {
  const pieces = answerPieces(chunks);
  return pieces.map((text, i) => `data: ${JSON.stringify(geminiResponse(text, i === pieces.length - 1))}\r\n\r\n`);
}

/** The answer cut into about `chunks` pieces, each after the first starting with its space. */
function answerPieces(chunks: number): string[] {
  const words = ANSWER.split(' ');
  const per = Math.max(1, Math.ceil(words.length / chunks));
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += per) pieces.push(`${i === 0 ? '' : ' '}${words.slice(i, i + per).join(' ')}`);
  return pieces;
}

/** The events of one streamed answer, each already framed as `data: ...\n\n`. */
export function streamEvents(chunks: number): string[] {
  const chunk = (delta: object, finishReason: string | null, extra: object = {}) =>
    `data: ${JSON.stringify({
      id: 'gen-bench-0001',
      object: 'chat.completion.chunk',
      created: 1_767_225_600,
      model: MODEL,
      choices: [{ index: 0, delta, finish_reason: finishReason }],
      ...extra,
    })}\n\n`;
  const events = [chunk({ role: 'assistant', content: '' }, null)];
  for (const text of answerPieces(chunks)) events.push(chunk({ content: text }, null));
  events.push(chunk({}, 'stop'));
  events.push(
    `data: ${JSON.stringify({
      id: 'gen-bench-0001',
      object: 'chat.completion.chunk',
      created: 1_767_225_600,
      model: MODEL,
      choices: [],
      usage: { prompt_tokens: 16, completion_tokens: 22, total_tokens: 38 },
    })}\n\n`,
  );
  events.push('data: [DONE]\n\n');
  return events;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function startFakeUpstream(settings: FakeSettings, port = 0): Promise<Listening> {
  const events = streamEvents(settings.streamChunks);
  const geminiEvents = geminiStreamEvents(settings.streamChunks);

  async function writeStream(res: ServerResponse, events: readonly string[]): Promise<void> {
    res.writeHead(200, SSE_HEADERS);
    for (const [index, event] of events.entries()) {
      if (res.destroyed) return;
      if (index > 0 && settings.streamGapMs > 0) await sleep(settings.streamGapMs);
      res.write(event);
    }
    res.end();
  }

  function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
    const gemini = GEMINI_PATH.exec((req.url ?? '').split('?')[0] ?? '');
    if (gemini) {
      if (gemini[1] === 'streamGenerateContent') void writeStream(res, geminiEvents);
      else res.writeHead(200, GEMINI_JSON_HEADERS).end(GEMINI_ANSWER);
      return;
    }
    let stream = false;
    try {
      stream = (JSON.parse(body) as { stream?: unknown }).stream === true;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"invalid JSON","code":400}}');
      return;
    }
    if (stream) void writeStream(res, events);
    else res.writeHead(200, JSON_HEADERS).end(COMPLETION);
  }

  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (req.method !== 'POST' || !(PATHS.has(path) || GEMINI_PATH.test(path))) {
      req.resume();
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found","code":404}}');
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      if (settings.delayMs > 0) setTimeout(() => answer(req, res, body), settings.delayMs);
      else answer(req, res, body);
    });
  });

  return listenOnLoopback(server, port);
}

const numberFromEnv = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return process.env[name] !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
};

if (import.meta.main) {
  const fake = await startFakeUpstream({
    delayMs: numberFromEnv('FAKE_DELAY_MS', 0),
    streamChunks: Math.max(1, numberFromEnv('FAKE_STREAM_CHUNKS', 8)),
    streamGapMs: numberFromEnv('FAKE_STREAM_GAP_MS', 2),
  });
  process.send?.({ ready: true, port: fake.port });
  // The parent going away (or telling us to stop) ends this process.
  process.on('disconnect', () => void fake.close().then(() => process.exit(0)));
  process.on('SIGTERM', () => void fake.close().then(() => process.exit(0)));
}
