// The HTTP transport every provider calls through: one keep-alive connection pool per provider
// (Node's own http/https Agent, which close() releases) and a JSON POST on it that resolves once
// the answer's status and headers are in, with its body still to be read (response-body.ts).
//
// Why Node's http client and not undici (or fetch, which is undici inside): under load undici's
// request path keeps about 2.5 KB per call alive past the young generation, so the old space
// fills to V8's limit before a full collection, and the process sat at 180-230 MB. Node's client
// promotes almost nothing and needs no WebAssembly parser or web streams loaded
// (docs/performance.md has the figures). It costs a few microseconds more CPU per call.
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { http, https } from '../../http/http-modules.ts';
import { QueuedCallAbortedError } from '../provider-error.ts';
import { decode } from './response-body.ts';

export interface UpstreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body with its content coding undone. Read it, resume() it, or destroy() it. */
  body: Readable;
}

export interface UpstreamPool {
  /**
   * POSTs `body` to `path` (which may carry a query). Rejects when the connection fails, or with
   * an error naming the abort when `signal` fires first; an abort later breaks the body instead.
   */
  post(path: string, headers: OutgoingHttpHeaders, body: string, signal: AbortSignal): Promise<UpstreamAnswer>;
  /** GETs `path`, as post() does (OpenRouter's key endpoint, read once at start). */
  get?(path: string, headers: OutgoingHttpHeaders, signal: AbortSignal): Promise<UpstreamAnswer>;
  /** Closes every connection, idle or not; later calls are refused. */
  close(): Promise<void>;
}

/** Idle connections are closed before the providers' own idle timeouts would close them under us. */
const IDLE_TIMEOUT_MS = 4_000;
/** Enough parallel calls for a small gateway, without unbounded sockets under a burst. */
const MAX_CONNECTIONS = 64;

/** Sockets given a fallback 'error' listener, once each. */
const guarded = new WeakSet<Socket>();
const ignore = () => undefined;

/**
 * Node's client moves a socket's 'error' listener between the request and the pool; an error
 * raised in between must not reach the process as an uncaught exception (the request itself
 * still sees it through its own listener).
 */
function guard(socket: Socket): void {
  if (guarded.has(socket)) return;
  guarded.add(socket);
  socket.on('error', ignore);
}

export function createUpstreamPool(baseUrl: string, idleTimeoutMs = IDLE_TIMEOUT_MS): UpstreamPool {
  const url = new URL(baseUrl);
  const secure = url.protocol === 'https:';
  const options = {
    keepAlive: true,
    // The most recently used connection first: the others go idle and are closed.
    scheduling: 'lifo' as const,
    maxSockets: MAX_CONNECTIONS,
    // Node closes a socket idle this long (or for a server's shorter Keep-Alive hint); on a busy
    // one it only emits an event nobody listens to, so a slow answer is not cut.
    timeout: idleTimeoutMs,
  };
  const agent = secure ? new https.Agent(options) : new http.Agent(options);
  const call = secure ? https.request : http.request;
  // Built once: only the path, headers and signal change between calls.
  const target = {
    agent,
    protocol: url.protocol,
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
  };

  let closed = false;

  function send(method: 'GET' | 'POST', path: string, headers: OutgoingHttpHeaders, body: string | undefined, signal: AbortSignal): Promise<UpstreamAnswer> {
    return new Promise((resolve, reject) => {
      // An aborted signal rejects before anything is sent.
      if (signal.aborted) return reject(signal.reason);
      if (closed) return reject(new Error('the connection pool is closed'));
      let answer: IncomingMessage | undefined;
      // Set once the pool hands the call a connection (a new one may still be connecting).
      let connection: Socket | undefined;
      const options = { ...target, method, path, headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) } };
      const request = call(options, (response: IncomingMessage) => {
        answer = response;
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: decode(response, response.headers['content-encoding']) });
      });
      request.on('socket', (socket: Socket) => {
        connection = socket;
        guard(socket);
      });
      // Not Node's `signal` option: that also cuts an answer that has fully arrived and is only
      // being drained, which loses the connection and can raise an 'error' on a socket the
      // request has already handed back. Only a call still under way is cut.
      const abort = () => {
        if (answer?.complete) return;
        const reason = signal.reason instanceof Error ? signal.reason : new Error('aborted', { cause: signal.reason });
        // Still queued for a connection: the provider was never asked, and must not be blamed.
        const error = connection === undefined ? new QueuedCallAbortedError('aborted while waiting for a pooled connection', { cause: reason }) : reason;
        // Settled here, not by the request's 'error': a call still queued for one of the
        // pool's connections hears nothing until a connection frees up, which a pool full of
        // long streams may not do for minutes.
        reject(error);
        request.destroy(error);
      };
      signal.addEventListener('abort', abort, { once: true });
      request.once('close', () => signal.removeEventListener('abort', abort));
      // Kept for the request's life: an error after the answer started (an abort, a reset)
      // reaches the body, and must not also be an unhandled 'error' here.
      request.on('error', reject);
      request.end(body);
    });
  }

  return {
    post: (path, headers, body, signal) => send('POST', path, headers, body, signal),
    get: (path, headers, signal) => send('GET', path, headers, undefined, signal),
    close() {
      closed = true;
      agent.destroy();
      return Promise.resolve();
    },
  };
}
