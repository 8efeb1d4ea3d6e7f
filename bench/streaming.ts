// Streaming latency, one request at a time over a kept-alive connection: time to the first body
// byte, to the first event that carries answer text, and to the last byte.
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TargetName } from './load.ts';
import { cpuMicros } from './processes.ts';
import { percentile } from './stats.ts';

export interface StreamTarget {
  name: TargetName;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The process charged with this target's CPU time (none for direct). */
  pid?: number;
}

/**
 * Idle time before each measured stream. Without it, two gateways measured back to back (a
 * baseline comparison) differed by 0.12 ms at the first token while running the same code: the
 * one measured second always paid for the first one's tail.
 */
const PAUSE_MS = 3;

export interface StreamSample {
  /** Milliseconds from sending the request to the first byte of the body. */
  firstByte: number;
  /** ... to the first event whose delta has text. */
  firstToken: number;
  /** ... to the end of the body. */
  lastByte: number;
}

export interface StreamSummary {
  target: TargetName;
  requests: number;
  failures: number;
  firstByte: { p50: number; p90: number; p99: number };
  firstToken: { p50: number; p90: number; p99: number };
  lastByte: { p50: number; p90: number; p99: number };
  /** CPU time of the target's process per streamed request, in microseconds. */
  cpuMicrosPerRequest: number;
}

/** True for a `data:` event carrying non-empty text: a Chat Completions delta or a Gemini part. */
function hasText(event: string): boolean {
  if (!event.startsWith('data: ') || event.startsWith('data: [DONE]')) return false;
  try {
    const chunk = JSON.parse(event.slice(6)) as {
      choices?: Array<{ delta?: { content?: unknown } }>;
      candidates?: Array<{ content?: { parts?: Array<{ text?: unknown }> } }>;
    };
    const content = chunk.choices?.[0]?.delta?.content ?? chunk.candidates?.[0]?.content?.parts?.[0]?.text;
    return typeof content === 'string' && content !== '';
  } catch {
    return false;
  }
}

function streamOnce(target: StreamTarget, agent: Agent): Promise<StreamSample> {
  const url = new URL(target.url);
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let firstByte = Number.NaN;
    let firstToken = Number.NaN;
    let text = '';
    let scanned = 0;
    const req = request(
      { agent, host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method: 'POST', headers: target.headers },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`${target.name} answered ${res.statusCode}`));
        }
        res.setEncoding('utf8');
        res.on('data', (part: string) => {
          const now = performance.now();
          if (Number.isNaN(firstByte)) firstByte = now - start;
          // Gemini ends its events with CRLF CRLF; JSON never holds a raw CR, so dropping them is safe.
          text += part.replaceAll('\r', '');
          if (!Number.isNaN(firstToken)) return;
          let end: number;
          while ((end = text.indexOf('\n\n', scanned)) !== -1) {
            const event = text.slice(scanned, end);
            scanned = end + 2;
            if (hasText(event)) {
              firstToken = now - start;
              break;
            }
          }
        });
        res.on('end', () => {
          const lastByte = performance.now() - start;
          // Chat Completions streams end with [DONE]; Gemini's last event carries the finish reason.
          if (!text.includes('data: [DONE]') && !text.includes('"finishReason"')) {
            return reject(new Error(`${target.name} stream ended without [DONE] or a finish reason`));
          }
          resolve({ firstByte, firstToken, lastByte });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(target.body);
  });
}

/**
 * Unmeasured streams, `concurrency` at a time per target. One stream at a time, a route's code
 * runs once per request, and V8 optimises a function fully (TurboFan) only after a few thousand
 * calls: without this the measurement would time V8's lower tiers, which a gateway in service
 * leaves after its first few thousand requests. Resolves to the number that failed.
 */
export async function warmUpStreaming(targets: readonly StreamTarget[], streams: number, concurrency = 25): Promise<number> {
  let failed = 0;
  for (const target of targets) {
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    let started = 0;
    const worker = async () => {
      while (started < streams) {
        started += 1;
        await streamOnce(target, agent).catch(() => void (failed += 1));
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(concurrency, streams) }, worker));
    } finally {
      agent.destroy();
    }
  }
  return failed;
}

/**
 * `requests` streams per target, the targets taking turns request by request so that a busy
 * moment on the machine hits all of them alike.
 */
export async function measureStreaming(targets: readonly StreamTarget[], requests: number, warmup: number): Promise<StreamSummary[]> {
  const agents = targets.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
  const samples: StreamSample[][] = targets.map(() => []);
  const failures = targets.map(() => 0);
  const cpu = (target: StreamTarget) => (target.pid === undefined ? Number.NaN : cpuMicros(target.pid));
  let cpuBefore: number[] = [];
  let cpuAfter: number[] = [];
  try {
    for (let i = 0; i < warmup + requests; i += 1) {
      if (i === warmup) cpuBefore = targets.map(cpu);
      for (let t = 0; t < targets.length; t += 1) {
        const index = (t + i) % targets.length;
        const target = targets[index] as StreamTarget;
        try {
          // A quiet start: the previous target's work after its last byte (its log line, its
          // upstream connection going back to the pool) would otherwise run into this one.
          await sleep(PAUSE_MS);
          const sample = await streamOnce(target, agents[index] as Agent);
          if (i >= warmup) samples[index]?.push(sample);
        } catch {
          if (i >= warmup) failures[index] = (failures[index] ?? 0) + 1;
        }
      }
    }
    cpuAfter = targets.map(cpu);
  } finally {
    for (const agent of agents) agent.destroy();
  }
  const summarise = (values: number[]) => {
    const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99) };
  };
  return targets.map((target, index) => {
    const list = samples[index] ?? [];
    return {
      target: target.name,
      requests: list.length,
      failures: failures[index] ?? 0,
      firstByte: summarise(list.map((s) => s.firstByte)),
      firstToken: summarise(list.map((s) => s.firstToken)),
      lastByte: summarise(list.map((s) => s.lastByte)),
      cpuMicrosPerRequest: ((cpuAfter[index] ?? Number.NaN) - (cpuBefore[index] ?? Number.NaN)) / Math.max(1, list.length + (failures[index] ?? 0)),
    };
  });
}
