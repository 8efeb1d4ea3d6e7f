// A thin node:http client for tests that need what fetch refuses: any method, header bytes
// outside ASCII, repeated headers, bodies of arbitrary bytes, and HEAD without a body.
import { Agent, request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface RawRequest {
  method: string;
  /** Path and query, sent as is (it must not contain spaces or characters above U+00FF). */
  path: string;
  /** An object, or a flat [name, value, name, value, ...] list to repeat a header. */
  headers?: OutgoingHttpHeaders | string[];
  body?: string | Buffer;
  /** A fresh connection instead of the client's keep-alive pool (for requests the server may close). */
  freshConnection?: boolean;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The raw header lines as received, names and values alternating. */
  rawHeaders: string[];
  body: Buffer;
  text: string;
  ms: number;
}

export interface RawClient {
  send(request: RawRequest): Promise<RawResponse>;
  close(): void;
}

export interface RawClientOptions {
  timeoutMs?: number;
  maxSockets?: number;
  /**
   * Resend a request once on a new connection when a pooled connection turns out to have been
   * closed by the server before the request got an answer (the server closes a connection after
   * a request it could not parse). Off by default: it would hide a server that drops requests.
   */
  retryStaleConnections?: boolean;
}

export function rawClient(baseUrl: string, options: RawClientOptions = {}): RawClient {
  const url = new URL(baseUrl);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 16 });
  // What each pooled connection carried last, so a failure on a reused connection names its cause.
  const lastOnSocket = new WeakMap<Socket, string>();

  function send(raw: RawRequest): Promise<RawResponse> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const described = `${raw.method} ${raw.path.slice(0, 80)}`;
      let answered = false;
      let previous: string | undefined;
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          method: raw.method,
          path: raw.path,
          headers: framed(raw.headers ?? {}, raw.body, url.host),
          agent: raw.freshConnection ? false : agent,
        },
        (res) => {
          answered = true;
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              rawHeaders: res.rawHeaders,
              body,
              text: body.toString('utf8'),
              ms: performance.now() - started,
            });
          });
        },
      );
      req.on('socket', (socket) => {
        previous = lastOnSocket.get(socket);
        lastOnSocket.set(socket, described);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) => {
        const stale = previous !== undefined && !answered && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
        if (stale && options.retryStaleConnections) {
          resolve(send({ ...raw, freshConnection: true }));
          return;
        }
        reject(new Error(`${described}: ${error.message}${previous ? ` (the connection last carried ${previous})` : ''}`, { cause: error }));
      });
      req.end(raw.body);
    });
  }

  return { send, close: () => agent.destroy() };
}

/**
 * Adds what Node leaves out: Content-Length for a body the caller did not frame (Node would send
 * a GET, HEAD, DELETE or OPTIONS body unframed, and the server would read it as the next
 * request), and Host when the headers are a list (Node adds it only to an object).
 */
function framed(headers: OutgoingHttpHeaders | string[], body: string | Buffer | undefined, host: string): OutgoingHttpHeaders | string[] {
  const names = (Array.isArray(headers) ? headers.filter((_, i) => i % 2 === 0) : Object.keys(headers)).map((name) => name.toLowerCase());
  const extra: string[] = [];
  if (Array.isArray(headers) && !names.includes('host')) extra.push('host', host);
  if (body !== undefined && !names.includes('content-length') && !names.includes('transfer-encoding')) {
    extra.push('content-length', String(Buffer.byteLength(body)));
  }
  if (extra.length === 0) return headers;
  if (Array.isArray(headers)) return [...headers, ...extra];
  const added: OutgoingHttpHeaders = {};
  for (let i = 0; i < extra.length; i += 2) added[extra[i] as string] = extra[i + 1];
  return { ...headers, ...added };
}

/**
 * Writes bytes to a new connection and returns everything the server sends back before it closes
 * the connection (or `timeoutMs` passes), for requests no HTTP client would produce.
 */
export function rawExchange(baseUrl: string, bytes: Buffer, timeoutMs = 2000): Promise<string> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(url.port), url.hostname, () => socket.write(bytes));
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may reset a connection it refuses; what it sent before that still counts.
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

export interface RawAnswer {
  /** NaN when nothing that looks like a status line came back. */
  status: number;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: string;
}

/**
 * Splits what one connection received into its responses, one after another, each framed by its
 * Content-Length (as the gateway's JSON answers are).
 */
export function parseRawAnswers(received: string): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let rest = received;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) throw new Error(`an incomplete response: ${JSON.stringify(rest)}`);
    const length = Number(/^content-length: *(\d+)\r?$/im.exec(rest.slice(0, end))?.[1]);
    if (!Number.isInteger(length)) throw new Error(`a response without Content-Length: ${rest.slice(0, end)}`);
    answers.push(parseRawAnswer(rest.slice(0, end + 4 + length)));
    rest = rest.slice(end + 4 + length);
  }
  return answers;
}

/** Splits what rawExchange returned into status, headers and body. */
export function parseRawAnswer(answer: string): RawAnswer {
  const split = answer.indexOf('\r\n\r\n');
  const head = split === -1 ? answer : answer.slice(0, split);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine)?.[1];
  return { status: status === undefined ? Number.NaN : Number(status), headers, body: split === -1 ? '' : answer.slice(split + 4) };
}
