// The floor of any Node HTTP hop: node:http in, one keep-alive Agent out, the request and the
// response streamed through untouched (no parsing, no logging, no validation). What the gateway
// costs above this is what its own work costs. Plain pipe() rather than stream.pipeline(): the
// latter allocates an AbortController per call and aborts it at the end, which costs a
// DOMException (with its stack trace) per request: more than the hop itself should.
//
// Runs as its own process (started by bench/run.ts through child_process.fork) and reports its
// port over IPC. PROXY_TARGET is the upstream's origin, e.g. http://127.0.0.1:41234.
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { listenOnLoopback, type Listening } from './listen.ts';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te', 'trailer']);

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

export function startPassthroughProxy(target: string, port = 0): Promise<Listening> {
  const origin = new URL(target);
  const agent = new Agent({ keepAlive: true, keepAliveMsecs: 4_000, maxSockets: 256 });

  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const upstream = httpRequest(
      {
        agent,
        host: origin.hostname,
        port: origin.port,
        method: req.method,
        path: req.url,
        headers: { ...forwardable(req.headers), host: origin.host },
      },
      (answer) => {
        // The caller may have left while the upstream was answering.
        if (res.destroyed) {
          answer.resume();
          return;
        }
        res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
        answer.on('error', () => res.destroy());
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (res.destroyed) return;
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.on('error', () => upstream.destroy());
    req.pipe(upstream);
  });

  return listenOnLoopback(server, port, () => agent.destroy());
}

if (import.meta.main) {
  const target = process.env.PROXY_TARGET;
  if (!target) throw new Error('PROXY_TARGET is required');
  const proxy = await startPassthroughProxy(target);
  process.send?.({ ready: true, port: proxy.port });
  process.on('disconnect', () => void proxy.close().then(() => process.exit(0)));
  process.on('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
}
