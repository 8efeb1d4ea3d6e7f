// Requests Node's HTTP parser refuses before Fastify sees them (a malformed request line, a header
// section over 16 KiB, a request that took too long to arrive). They get the documented error body
// with a fresh request id, like every other error, and the connection is closed: after a parse
// error nothing more on it can be trusted.
// Also what Node answers itself before Fastify sees a request: an `Expect` header, and CONNECT.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { errorBody, GatewayError, type ErrorCode } from '../errors.ts';
import { http } from './http-modules.ts';
import { REQUEST_ID_HEADER, requestIdFor } from '../plugins/request-id.ts';

function codeFor(error: NodeJS.ErrnoException): ErrorCode {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'headers_too_large';
  return 'invalid_request';
}

/** Fastify's `clientErrorHandler`. */
export function clientErrorHandler(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const requestId = randomUUID();
  const code = codeFor(error);
  const gatewayError = new GatewayError(code, code === 'invalid_request' ? { message: 'The request is not valid HTTP.' } : {});
  // Only the parser's code: the error's rawPacket holds the request's bytes, keys included.
  this.log.debug({ request_id: requestId, parse_error: error.code, status: gatewayError.statusCode }, 'unparsable request refused');
  // A bad request pipelined behind one whose answer is already going out (a stream, say) must not
  // put a status line in the middle of that answer: as Node's own handler does, the connection is
  // then closed without one.
  const answering = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (answering?.headersSent) return void socket.destroy();
  endWithError(socket, gatewayError, requestId);
}

/** Writes the documented error straight to the socket, then closes it. */
function endWithError(socket: Socket, gatewayError: GatewayError, requestId: string): void {
  if (socket.writable) {
    const body = JSON.stringify(errorBody(gatewayError, requestId));
    socket.end(
      `HTTP/1.1 ${gatewayError.statusCode} ${http.STATUS_CODES[gatewayError.statusCode]}\r\n` +
        'content-type: application/json; charset=utf-8\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\n` +
        'cache-control: no-store\r\n' +
        'connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroySoon();
}

/**
 * The server's 'connect' listener. Node hands a CONNECT request (a proxy tunnel, which this
 * gateway is not) to this event instead of to Fastify, and without a listener drops the
 * connection with no answer. It gets the 404 any other unknown route gets.
 */
export function connectRefusedHandler(this: FastifyInstance, req: IncomingMessage, socket: Socket): void {
  const requestId = requestIdFor(req);
  this.log.debug({ request_id: requestId, status: 404 }, 'CONNECT refused');
  endWithError(socket, new GatewayError('not_found'), requestId);
}

/**
 * The server's 'checkExpectation' listener: an `Expect` header other than `100-continue`, which
 * Node would otherwise refuse with a bare 417 of its own. The body was never read, so the
 * connection is closed.
 */
export function expectationFailedHandler(this: FastifyInstance, req: IncomingMessage, res: ServerResponse): void {
  const requestId = requestIdFor(req);
  this.log.debug({ request_id: requestId, status: 417 }, 'unsupported Expect header refused');
  const body = JSON.stringify(errorBody(new GatewayError('expectation_failed'), requestId));
  res.writeHead(417, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    [REQUEST_ID_HEADER]: requestId,
    'cache-control': 'no-store',
    connection: 'close',
  });
  res.end(body);
}

/**
 * The server's 'checkContinue' listener. Node would answer `Expect: 100-continue` with
 * 100 Continue as soon as the headers arrive, inviting a client with a wrong key, or over its
 * limit, to upload its whole body before the refusal. Here the request goes to Fastify at once
 * and the 100 goes out when the body is first read: after the key, the limit and the route have
 * passed. A request refused before that gets its final answer with the body still unsent.
 */
export function continueWhenBodyRead(this: Server, req: IncomingMessage, res: ServerResponse): void {
  // Reading the body resumes the stream; so does Node discarding it after a refusal, when the
  // final answer is already out and no 100 may follow it.
  req.once('resume', () => {
    if (!res.headersSent && !res.writableEnded && !res.destroyed) res.writeContinue();
  });
  this.emit('request', req, res);
}
