// Plumbing shared by the fake providers: a real HTTP server on loopback that records what it
// received and answers according to a fault plan. Each provider's file renders its own wire format.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { http } from '../http/http-modules.ts';
import { untilMidnightPacific } from '../providers/gemini/gemini-errors.ts';

export type FaultKind =
  /** A normal answer (optionally after delayMs). */
  | 'ok'
  /** The provider's own error body with `status` (default 503). */
  | 'error'
  /** 429 with the provider's Retry-After hint of `retryAfterSeconds` (default 30). */
  | 'rate_limited'
  /** The provider's answer to a bad key. */
  | 'unauthorized'
  /** Accept the request and never answer (until the client gives up). */
  | 'hang'
  /** Destroy the connection without answering. */
  | 'reset'
  /** 200 with a body that is not valid for the protocol (broken JSON, broken SSE). */
  | 'malformed'
  /** 200 that is a failure in disguise: no candidates, error inside a 200, no choices. */
  | 'bad_response'
  /** 200 in which the provider will not answer: a blocked prompt, an answer withheld by a filter. */
  | 'blocked'
  /** A stream that sends `afterChunks` chunks, then fails mid-way. */
  | 'stream_cut'
  /** A normal answer whose chunks arrive `delayMs` apart. */
  | 'trickle'
  /** 429 for a daily quota: the provider's own body and headers for it (Gemini's PerDay quota, OpenRouter's free-models-per-day). */
  | 'daily_limit'
  /** Gemini: 400 FAILED_PRECONDITION, a refusal of the account (a location or billing it does not serve), not of the request. */
  | 'precondition'
  /** OpenRouter: 403 from a guardrail that flagged the prompt, naming the patterns it matched. */
  | 'guardrail'
  /** Gemini: an answer that ends with a finish reason that is not a clean stop (`finishReason`, default OTHER). */
  | 'odd_finish'
  /** A healthy stream with one event whose data is not JSON after `afterChunks` chunks (default 10). */
  | 'malformed_event'
  /** The provider's content-policy refusal: OpenAI's 400 `content_policy_violation`, OpenRouter's 403 for flagged input. */
  | 'content_policy'
  /** A stream that sends `afterChunks` chunks, then nothing more, its connection left open. */
  | 'stream_stall';

export interface Fault {
  kind: FaultKind;
  status?: number;
  /** For 'rate_limited': the Retry-After hint. For OpenRouter's 'daily_limit': the seconds until X-RateLimit-Reset (default: the next 00:00 UTC). */
  retryAfterSeconds?: number;
  /** For 'odd_finish': the finish reason sent. */
  finishReason?: string;
  /** For 'ok': wait before answering. For 'trickle': the gap between chunks. */
  delayMs?: number;
  afterChunks?: number;
  /** For the 429s: the limit the provider names (Gemini's quotaValue, OpenRouter's X-RateLimit-Limit). */
  limit?: number;
  /** The answer's text is this many numbered words ("w1 w2 …"), one chunk each when streamed. */
  words?: number;
}

/**
 * Limits a fake enforces as its provider does: past one, a request gets the provider's own 429
 * (its per-minute one, or its daily one) and is not counted. Windows are fixed: the minute turns
 * on the minute, the day at 00:00 UTC or midnight Pacific, on the clock given (the system's by default).
 */
export interface FakeLimits {
  rpm?: number;
  rpd?: number;
  day?: 'utc' | 'pacific';
  now?: () => number;
}

/** What the fake has counted against its limits, for its headers. */
export interface FakeQuota {
  limits: FakeLimits;
  usedToday: number;
  /** Milliseconds until the fake's day turns. */
  dayResetMs: number;
}


/** "w1 w2 … wN": a long answer whose every chunk can be told apart. */
export function numberedWords(count: number): string {
  return Array.from({ length: count }, (_, i) => `w${i + 1}`).join(' ');
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or the raw text when it is not JSON, or undefined when empty. */
  body: unknown;
  /** When the request arrived (Date.now()): which came first, and how far apart. */
  receivedAt: number;
}

export interface FakeContext {
  req: IncomingMessage;
  res: ServerResponse;
  request: RecordedRequest;
  fault: Fault;
  /** Resolves after ms, or early (false) once the client has gone away. */
  wait(ms: number): Promise<boolean>;
  /** True once the client closed the connection. */
  readonly clientGone: boolean;
  /** Set while the fake enforces limits. */
  quota: FakeQuota | undefined;
}

export type FakeRoute = (ctx: FakeContext) => void | Promise<void>;

export interface FakeProviderServer {
  readonly name: string;
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Number of requests whose client disconnected before the fake finished answering. */
  readonly abortedRequests: number;
  /** Faults used by the next requests, in order; after them the default applies. */
  enqueue(...faults: Fault[]): void;
  /** The fault used when the queue is empty. */
  setDefault(fault: Fault): void;
  /**
   * Picks a fault per request, from what it asked if it likes (a provider that is slow for one
   * prompt only); overrides the default, not the queue; null removes it.
   */
  setChooser(chooser: ((request: RecordedRequest) => Fault) | null): void;
  /** Enforces limits as the provider does (null: none, the default). */
  setLimits(limits: FakeLimits | null): void;
  /** Requests refused with a 429 because they passed a limit set by setLimits. */
  readonly limitRefusals: number;
  /** Clears the queue, the chooser, the recorded requests and the limits, and restores 'ok'. */
  reset(): void;
  close(): Promise<void>;
}

export async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

export function startSse(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...headers,
  });
  res.flushHeaders();
}

/** Deterministic answer text, so tests and people can see which provider answered. */
export function simulatedAnswer(provider: string, model: string, prompt: string): string {
  const shown = prompt.length > 60 ? `${prompt.slice(0, 57)}...` : prompt;
  return `Simulated answer from ${provider} (${model}). You said: "${shown}"`;
}

/** Splits text into word-sized deltas for streaming. */
export function toDeltas(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [text];
}

/** Rough token count for simulated usage figures. */
export function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

export async function startFakeServer(name: string, route: FakeRoute): Promise<FakeProviderServer> {
  const requests: RecordedRequest[] = [];
  const queue: Fault[] = [];
  const sockets = new Set<Socket>();
  let fallback: Fault = { kind: 'ok' };
  let chooser: ((request: RecordedRequest) => Fault) | null = null;
  let abortedRequests = 0;
  let limits: FakeLimits | null = null;
  let limitRefusals = 0;
  const counted = { minute: -1, inMinute: 0, day: -1, inDay: 0 };

  /** Counts a call against the limits (a POST), or only reads them; the provider's own 429 when a call passes one. */
  function enforce(counts: boolean): { fault: Fault | undefined; quota: FakeQuota | undefined } {
    if (limits === null) return { fault: undefined, quota: undefined };
    const now = (limits.now ?? Date.now)();
    const minute = Math.floor(now / 60_000);
    const dayReset = limits.day === 'pacific' ? now + untilMidnightPacific(now) : (Math.floor(now / 86_400_000) + 1) * 86_400_000;
    const day = Math.round(dayReset / 60_000);
    if (minute !== counted.minute) Object.assign(counted, { minute, inMinute: 0 });
    if (day !== counted.day) Object.assign(counted, { day, inDay: 0 });
    const quota = (): FakeQuota => ({ limits: limits as FakeLimits, usedToday: counted.inDay, dayResetMs: dayReset - now });
    if (!counts) return { fault: undefined, quota: quota() };
    if (limits.rpd !== undefined && counted.inDay >= limits.rpd) {
      limitRefusals += 1;
      return { fault: { kind: 'daily_limit', limit: limits.rpd }, quota: quota() };
    }
    if (limits.rpm !== undefined && counted.inMinute >= limits.rpm) {
      limitRefusals += 1;
      return { fault: { kind: 'rate_limited', limit: limits.rpm, retryAfterSeconds: Math.max(1, Math.ceil(((minute + 1) * 60_000 - now) / 1000)) }, quota: quota() };
    }
    counted.inMinute += 1;
    counted.inDay += 1;
    return { fault: undefined, quota: quota() };
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const receivedAt = Date.now();
    const request: RecordedRequest = {
      receivedAt,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: await readBody(req).catch(() => undefined),
    };
    requests.push(request);
    // Only calls (chat, embeddings) count against limits; listing models or reading the key does not.
    const limited = enforce(request.method === 'POST');
    const fault = limited.fault ?? queue.shift() ?? chooser?.(request) ?? fallback;

    let clientGone = false;
    const waiters = new Set<() => void>();
    res.on('close', () => {
      if (!res.writableFinished) {
        clientGone = true;
        abortedRequests += 1;
      }
      for (const wake of waiters) wake();
    });
    const wait = (ms: number) =>
      new Promise<boolean>((resolve) => {
        if (clientGone) return resolve(false);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve(!clientGone);
        };
        const timer = setTimeout(done, ms);
        waiters.add(done);
      });

    if (fault.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault.kind === 'hang') {
      // Hold the request open; the socket is destroyed when the client aborts or on close().
      return;
    }
    try {
      await route({
        req,
        res,
        request,
        fault,
        wait,
        quota: limited.quota,
        get clientGone() {
          return clientGone;
        },
      });
    } catch {
      if (!res.headersSent) sendJson(res, 500, { error: { message: 'fake server failure' } });
      else res.destroy();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    name,
    url: `http://127.0.0.1:${port}`,
    requests,
    get abortedRequests() {
      return abortedRequests;
    },
    enqueue: (...faults) => void queue.push(...faults),
    setDefault: (fault) => void (fallback = fault),
    setChooser: (next) => void (chooser = next),
    setLimits(next) {
      limits = next;
      Object.assign(counted, { minute: -1, inMinute: 0, day: -1, inDay: 0 });
    },
    get limitRefusals() {
      return limitRefusals;
    },
    reset() {
      limits = null;
      limitRefusals = 0;
      queue.length = 0;
      requests.length = 0;
      chooser = null;
      fallback = { kind: 'ok' };
      abortedRequests = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
