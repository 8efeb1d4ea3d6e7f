// A fast OpenAI-compatible upstream for the benchmark: POST /api/v1/chat/completions (OpenRouter's
// path) and /openai/v1/chat/completions (Groq's), answered with one prebuilt JSON completion or,
// with `stream: true`, a short server-sent event stream. It does as little as it can, so what the
// benchmark measures is the hop in front of it.
//
// Runs as its own process (started by bench/run.ts through child_process.fork) and reports its
// port over IPC. Settings come from the environment:
//   FAKE_DELAY_MS        wait before answering (default 0)
//   FAKE_STREAM_CHUNKS   content chunks in a stream (default 8)
//   FAKE_STREAM_GAP_MS   pause between stream chunks (default 2; 0 writes them back to back)
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, type Listening } from './listen.ts';

const PATHS = new Set(['/api/v1/chat/completions', '/openai/v1/chat/completions']);
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

/** The events of one streamed answer, each already framed as `data: ...\n\n`. */
export function streamEvents(chunks: number): string[] {
  const words = ANSWER.split(' ');
  const per = Math.max(1, Math.ceil(words.length / chunks));
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
  for (let i = 0; i < words.length; i += per) {
    const text = words.slice(i, i + per).join(' ');
    events.push(chunk({ content: i === 0 ? text : ` ${text}` }, null));
  }
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

  async function writeStream(res: ServerResponse): Promise<void> {
    res.writeHead(200, SSE_HEADERS);
    for (const [index, event] of events.entries()) {
      if (res.destroyed) return;
      if (index > 0 && settings.streamGapMs > 0) await sleep(settings.streamGapMs);
      res.write(event);
    }
    res.end();
  }

  function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
    let stream = false;
    try {
      stream = (JSON.parse(body) as { stream?: unknown }).stream === true;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"invalid JSON","code":400}}');
      return;
    }
    if (stream) void writeStream(res);
    else res.writeHead(200, JSON_HEADERS).end(COMPLETION);
  }

  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    if (req.method !== 'POST' || !PATHS.has((req.url ?? '').split('?')[0] ?? '')) {
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
