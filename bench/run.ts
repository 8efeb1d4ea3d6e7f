// `npm run bench`: how much the gateway adds to a call, next to the same traffic sent straight to
// the upstream ("direct") and through a bare Node pass-through proxy (the floor of any Node hop).
//
// Three processes are started on 127.0.0.1: a fast fake upstream, the proxy, and the gateway
// exactly as production runs it (`node src/server.ts`, NODE_ENV=production, LOG_LEVEL=info).
// autocannon loads each target in turn, round after round, at each connection count; the tables
// show medians over rounds with their min–max, and everything is written as JSON under
// bench/results/. Then streaming latency is measured one request at a time.
// `npm run bench -- --help` lists the settings.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runRound, type RoundResult, type Target } from './load.ts';
import { readOptions, USAGE, type BenchOptions } from './options.ts';
import { BENCH_KEY, machineTicks, rssMegabytes, startFake, startGateway, startProxy, stealPercent, upstreamPath, type Child } from './processes.ts';
import { formatProfile, readProfile, summariseProfile, type ProfileSummary } from './profile-summary.ts';
import { checks, formatChecks, formatLevel, formatStreaming, summariseLevel, type LevelSummary } from './report.ts';
import { measureStreaming, warmUpStreaming, type StreamSummary, type StreamTarget } from './streaming.ts';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const PROMPT = 'What is the capital of France?';
const UPSTREAM_MODEL = 'bench/fake-model';

const log = (text: string) => process.stderr.write(`${text}\n`);

let options: BenchOptions;
try {
  const read = readOptions(process.argv.slice(2), process.env);
  if (read === 'help') {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  options = read;
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
  process.exit(2);
}

// Upper bound on the whole run, so it always stops by itself.
const targetCount = options.targets.length + (options.baselineDir ? 1 : 0);
// A stream lasts about ten of the fake's gaps (measured ones start after a 3 ms pause); warm-up
// streams run 25 at a time.
const streamMs = 10 * options.streamGapMs + 2;
const streamSeconds = options.streamRequests > 0 ? (targetCount * (options.streamRequests * (streamMs + 3) + (options.streamWarmup / 25) * streamMs)) / 1000 : 0;
const plannedSeconds = options.connections.length * targetCount * (options.rounds * options.duration + options.warmup) + streamSeconds + 30;
const children: Child[] = [];
const guard = setTimeout(
  () => {
    log(`the benchmark ran past twice its planned ${Math.round(plannedSeconds)} s; stopping`);
    for (const child of children) child.kill();
    process.exit(1);
  },
  (plannedSeconds * 2 + 120) * 1000,
);
guard.unref();
process.on('exit', () => {
  for (const child of children) child.kill();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

mkdirSync(RESULTS, { recursive: true });
// One folder per run and process, so each profile is found without guessing.
const runStamp = new Date().toISOString().replace(/[:.]/g, '-');
const profileDir = (name: string) => join(RESULTS, 'profiles', `${runStamp}-${name}`);
const profileFlags = (name: string) => {
  if (!options.profile) return [];
  mkdirSync(profileDir(name), { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${profileDir(name)}`];
};

const loadBefore = loadavg();
const ticksAtStart = machineTicks();
log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${loadBefore.map((v) => v.toFixed(2)).join(' ')}`,
);
if (loadBefore[0] !== undefined && loadBefore[0] > cpus().length * 0.25) {
  log('warning: the machine is busy (1-minute load average above a quarter of the cores); expect noisy figures');
}
log(
  `plan: ${options.rounds} rounds × ${options.duration} s per target at ${options.connections.join(', ')} connections, ` +
    `upstream delay ${options.delayMs} ms, provider ${options.provider}, gateway route ${options.route === 'chat' ? 'POST /v1/chat/completions' : 'POST /query'}, about ${Math.round(plannedSeconds / 60)} min`,
);

const fake = await startFake({ delayMs: options.delayMs, streamChunks: 8, streamGapMs: options.streamGapMs });
children.push(fake);
const proxy = options.targets.includes('proxy') ? await startProxy(fake.url) : undefined;
if (proxy) children.push(proxy);
const gateway = options.targets.includes('gateway')
  ? await startGateway({
      provider: options.provider,
      upstream: fake.url,
      nodeFlags: [...options.gatewayFlags, ...profileFlags('gateway')],
      ...(options.variant ? { variant: options.variant } : {}),
    })
  : undefined;
if (gateway) children.push(gateway);
const baseline = options.baselineDir
  ? await startGateway({
      provider: options.provider,
      upstream: fake.url,
      nodeFlags: [...options.baselineFlags, ...profileFlags('baseline')],
      root: resolve(options.baselineDir),
      name: 'baseline',
      ...(options.baselineVariant ? { variant: options.baselineVariant } : {}),
    })
  : undefined;
if (baseline) children.push(baseline);

// The same call three ways: what the gateway sends upstream, and what a caller sends the gateway.
const gemini = options.provider === 'gemini';
/** The request the gateway's provider sends upstream, in that provider's wire format. */
function upstreamRequestBody(stream: boolean): string {
  if (gemini) {
    return JSON.stringify({ contents: [{ role: 'user', parts: [{ text: PROMPT }] }], generationConfig: { maxOutputTokens: 256, temperature: 0.7 } });
  }
  return JSON.stringify({
    model: UPSTREAM_MODEL,
    messages: [{ role: 'user', content: PROMPT }],
    max_tokens: 256,
    temperature: 0.7,
    ...(stream && { stream: true, stream_options: { include_usage: true } }),
  });
}
const upstreamBody = upstreamRequestBody(false);
const upstreamHeaders: Record<string, string> = gemini
  ? { 'content-type': 'application/json', 'x-goog-api-key': 'bench' }
  : { 'content-type': 'application/json', authorization: 'Bearer bench' };
const path = upstreamPath(options.provider);
const targets: Target[] = [];
if (options.targets.includes('direct')) {
  targets.push({ name: 'direct', url: `${fake.url}${path}`, headers: upstreamHeaders, body: upstreamBody });
}
if (proxy) targets.push({ name: 'proxy', url: `${proxy.url}${path}`, headers: upstreamHeaders, body: upstreamBody, pid: proxy.pid });
// The same question on the route under load; "auto" lets the gateway's cascade pick the provider.
const callerRoute =
  options.route === 'chat'
    ? { path: '/v1/chat/completions', body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: PROMPT }], max_tokens: 256, temperature: 0.7 }) }
    : { path: '/query', body: JSON.stringify({ prompt: PROMPT, max_tokens: 256, temperature: 0.7 }) };
const callerHeaders = { 'content-type': 'application/json', 'x-api-key': BENCH_KEY };
for (const server of [baseline, gateway]) {
  if (!server) continue;
  targets.push({ name: server === gateway ? 'gateway' : 'baseline', url: `${server.url}${callerRoute.path}`, headers: callerHeaders, body: callerRoute.body, pid: server.pid });
}

// Every target must answer correctly before its speed means anything.
for (const target of targets) {
  const response = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body });
  const text = await response.text();
  if (response.status !== 200 || !text.includes('Paris')) {
    throw new Error(`${target.name} did not answer correctly (HTTP ${response.status}): ${text.slice(0, 300)}`);
  }
}

const rounds: RoundResult[] = [];
const levels: LevelSummary[] = [];
const gatewayRss: number[] = [];
for (const target of targets.filter((t) => t.name === 'gateway' || t.name === 'baseline')) {
  log(`warming up the ${target.name} (10 connections)`);
  await runRound(target, 10, Math.max(2, options.warmup * 2));
}
for (const connections of options.connections) {
  for (const target of targets) await runRound(target, connections, options.warmup);
  const levelRounds: RoundResult[] = [];
  for (let round = 0; round < options.rounds; round += 1) {
    // Each round starts with a different target, so none always runs first (or last).
    const order = targets.map((_, i) => targets[(i + round) % targets.length] as Target);
    for (const target of order) {
      const result = await runRound(target, connections, options.duration);
      const crashed = children.find((child) => child.crashed);
      if (crashed) throw new Error(`the ${crashed.name} process exited during the run`);
      levelRounds.push(result);
      if (target.name === 'gateway') gatewayRss.push(result.rssMb);
      log(
        `  c=${connections} round ${round + 1}/${options.rounds} ${target.name.padEnd(7)} ` +
          `${Math.round(result.requestsPerSecond).toString().padStart(6)} req/s  p50 ${result.p50.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms` +
          (Number.isFinite(result.cpuMicrosPerRequest) ? `  ${Math.round(result.cpuMicrosPerRequest)} µs CPU/req` : '') +
          (result.failures > 0 ? `  ${result.failures} FAILED` : ''),
      );
    }
  }
  rounds.push(...levelRounds);
  levels.push(summariseLevel(connections, levelRounds));
}

// Streaming: /v1/chat/completions with stream: true through the gateway, against the same stream
// fetched straight from the fake and through the proxy.
let streaming: StreamSummary[] | undefined;
let streamingNote: string | undefined;
let streamingSteal = Number.NaN;
if (options.streamRequests > 0 && gateway) {
  const streamBody = upstreamRequestBody(true);
  const streamPath = upstreamPath(options.provider, true);
  const chatBody = JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: PROMPT }], stream: true, max_tokens: 256, temperature: 0.7 });
  /** The gateway's streaming route, when this checkout has one that works. */
  const streamTarget = async (server: Child, name: 'gateway' | 'baseline'): Promise<StreamTarget | string> => {
    const target: StreamTarget = { name, url: `${server.url}/v1/chat/completions`, headers: callerHeaders, body: chatBody, pid: server.pid };
    const probe = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body });
    const text = await probe.text();
    if (probe.status === 200 && text.includes('data: [DONE]')) return target;
    return `skipped for the ${name}: POST /v1/chat/completions with stream: true answered HTTP ${probe.status}`;
  };
  const gatewayStream = await streamTarget(gateway, 'gateway');
  const baselineStream = baseline ? await streamTarget(baseline, 'baseline') : undefined;
  if (typeof baselineStream === 'string') log(`streaming ${baselineStream}`);
  if (typeof gatewayStream === 'string') {
    streamingNote = gatewayStream;
    log(`streaming ${streamingNote}`);
  } else {
    log(`streaming: ${options.streamWarmup} unmeasured streams per target (25 at a time), then ${options.streamRequests} measured one at a time, ${options.streamGapMs} ms between upstream events`);
    const streamTargets: StreamTarget[] = [
      { name: 'direct', url: `${fake.url}${streamPath}`, headers: upstreamHeaders, body: streamBody },
      ...(proxy ? [{ name: 'proxy' as const, url: `${proxy.url}${streamPath}`, headers: upstreamHeaders, body: streamBody, pid: proxy.pid }] : []),
      ...(baselineStream && typeof baselineStream !== 'string' ? [baselineStream] : []),
      gatewayStream,
    ];
    const warmupFailures = await warmUpStreaming(streamTargets, options.streamWarmup);
    if (warmupFailures > 0) log(`streaming warm-up: ${warmupFailures} streams failed`);
    const before = machineTicks();
    streaming = await measureStreaming(streamTargets, options.streamRequests, Math.min(20, options.streamRequests));
    streamingSteal = stealPercent(before, machineTicks());
  }
}

const rssAfter = gateway ? rssMegabytes(gateway.pid) : Number.NaN;
// The gateway (and baseline) write their CPU profiles when they exit.
for (const child of [...children].reverse()) await child.stop();
children.length = 0;

const profiles: Array<{ name: string; file: string; summary: ProfileSummary }> = [];
for (const name of options.profile ? ['baseline', 'gateway'] : []) {
  const dir = profileDir(name);
  const file = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) : undefined;
  if (file) profiles.push({ name, file: join(dir, file), summary: summariseProfile(readProfile(join(dir, file)), 30) });
}

const loadAfter = loadavg();
const runSteal = stealPercent(ticksAtStart, machineTicks());
const checkList = checks(levels, gatewayRss, streaming);
const out: string[] = [''];
for (const level of levels) out.push(formatLevel(level, options.rounds, options.duration), '');
if (streaming) out.push(formatStreaming(streaming), `CPU steal during the streaming run: ${streamingSteal.toFixed(0)}% of the machine`, '');
else if (streamingNote) out.push(`── streaming ── ${streamingNote}`, '');
if (gateway) {
  out.push(`gateway RSS after each round (MB): ${gatewayRss.map((v) => v.toFixed(0)).join(' ')}; at the end ${rssAfter.toFixed(0)} MB`);
}
out.push(
  `load average: ${loadBefore.map((v) => v.toFixed(2)).join(' ')} before, ${loadAfter.map((v) => v.toFixed(2)).join(' ')} after; ` +
    `CPU steal over the whole run ${runSteal.toFixed(0)}%`,
  '',
);
out.push(formatChecks(checkList), '');
for (const { name, file, summary } of profiles) out.push(`── ${name} CPU profile: ${file} ──`, formatProfile(summary), '');

const file = join(RESULTS, `bench-${runStamp}.json`);
writeFileSync(
  file,
  `${JSON.stringify(
    {
      startedAt: new Date(Date.now() - performance.now()).toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadBefore, loadAfter, stealPct: runSteal },
      options,
      levels,
      rounds,
      gatewayRss,
      streaming: streaming ? { targets: streaming, stealPct: streamingSteal } : (streamingNote ?? null),
      checks: checkList,
      profiles: profiles.map(({ name, file, summary }) => ({ name, file, ...summary })),
    },
    null,
    2,
  )}\n`,
);
out.push(`results written to ${file}`);
process.stdout.write(`${out.join('\n')}\n`);
