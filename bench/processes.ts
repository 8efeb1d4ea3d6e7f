// The processes under test: the fake upstream, the bare pass-through proxy and the gateway, each
// in its own process so its CPU time and memory can be read apart from the load generator's.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { hash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export const BENCH_KEY = 'bench-client-key-0123456789';

export interface Child {
  name: string;
  pid: number;
  /** Set when the process ended without being asked to. */
  readonly crashed: boolean;
  url: string;
  stop(): Promise<void>;
  /** Immediate SIGKILL, for when the benchmark itself is exiting. */
  kill(): void;
}

// ---------------------------------------------------------------------------------------------
// CPU time and memory, read from /proc (Linux). Elsewhere they read as NaN and print as "n/a".

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU time of a process so far, in microseconds. */
export function cpuMicros(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which sits in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks / clockTicks()) * 1e6;
  } catch {
    return Number.NaN;
  }
}

/** The machine's CPU time so far, and the part the hypervisor gave to other guests ("steal"). */
export function machineTicks(): { total: number; steal: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal
    const total = fields.slice(0, 8).reduce((sum, v) => sum + v, 0);
    return { total, steal: fields[7] ?? Number.NaN };
  } catch {
    return { total: Number.NaN, steal: Number.NaN };
  }
}

/** Steal as a percentage of the machine's CPU time between two readings. */
export function stealPercent(before: { total: number; steal: number }, after: { total: number; steal: number }): number {
  const total = after.total - before.total;
  return total > 0 ? ((after.steal - before.steal) / total) * 100 : Number.NaN;
}

/** Resident set size of a process, in megabytes. */
export function rssMegabytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

// ---------------------------------------------------------------------------------------------

/** Watches for an exit nobody asked for; stop() and kill() make the exit expected. */
function lifecycle(child: ChildProcess) {
  let expected = false;
  let crashed = false;
  child.on('exit', () => {
    if (!expected) crashed = true;
  });
  return {
    get crashed() {
      return crashed;
    },
    stop: () => {
      expected = true;
      return stopper(child)();
    },
    kill: () => {
      expected = true;
      child.kill('SIGKILL');
    },
  };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/** Forks one of the bench's own servers and waits for it to report its port. */
function forkServer(name: string, file: string, env: Record<string, string>): Promise<Child> {
  const child = fork(here(file), [], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const life = lifecycle(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 10 s`)), 10_000);
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code} before it was ready`)));
    child.once('message', (message: { port?: number }) => {
      clearTimeout(timer);
      if (typeof message.port !== 'number') return reject(new Error(`${name} sent no port`));
      resolve({
        name,
        pid: child.pid as number,
        url: `http://127.0.0.1:${message.port}`,
        get crashed() {
          return life.crashed;
        },
        stop: life.stop,
        kill: life.kill,
      });
    });
  });
}

export interface FakeOptions {
  delayMs: number;
  streamChunks: number;
  streamGapMs: number;
}

export function startFake(options: FakeOptions): Promise<Child> {
  return forkServer('fake upstream', './fake-upstream.ts', {
    FAKE_DELAY_MS: String(options.delayMs),
    FAKE_STREAM_CHUNKS: String(options.streamChunks),
    FAKE_STREAM_GAP_MS: String(options.streamGapMs),
  });
}

export function startProxy(target: string): Promise<Child> {
  return forkServer('pass-through proxy', './passthrough-proxy.ts', { PROXY_TARGET: target });
}

export type BenchProvider = 'openrouter' | 'groq' | 'gemini';

/** The model the gateway asks Gemini for (the fake answers for any). */
export const GEMINI_BENCH_MODEL = 'bench-fake-model';

export interface GatewayOptions {
  provider: BenchProvider;
  upstream: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags: string[];
  /** The checkout to run (default: this one); another one serves as a baseline. */
  root?: string;
  name?: string;
  /** Run bench/gateway-variant.ts with this variant instead of src/server.ts. */
  variant?: string;
}

/**
 * The node flags and environment of a checkout's `npm start` (`env NAME=value ... node --flag ...
 * src/server.ts`), so each gateway runs exactly as that checkout runs in production.
 */
function startCommand(root: string): { flags: string[]; env: Record<string, string> } {
  const words = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
  const assignments = words.filter((word) => /^[A-Z_][A-Z0-9_]*=/.test(word));
  return {
    flags: words.filter((word) => word.startsWith('--')),
    env: Object.fromEntries(assignments.map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)])),
  };
}

/**
 * The image runs with Node's compile cache, filled while it is built (see the Dockerfile), so
 * modules load as cached bytecode and TypeScript is not stripped again (which would load the
 * stripper and cost about 18 MB). The gateway here does the same: one cache per checkout, filled
 * the way the image fills it. V8 rejects a cache written under other flags, hence the same flags;
 * entries are keyed by content, so a stale one is ignored.
 */
function compileCache(root: string, flags: string[]): string {
  const dir = join(tmpdir(), 'secure-llm-router-bench', 'compile-cache', hash('sha256', root).slice(0, 16));
  // A checkout from before the warm-up script existed (a baseline) is warmed through its server.
  const warmUp = existsSync(join(root, 'src', 'warm-compile-cache.ts')) ? ['src/warm-compile-cache.ts'] : ['-e', "import('./src/server.ts')"];
  execFileSync(process.execPath, [...flags, ...warmUp], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: dir },
    stdio: 'ignore',
  });
  return dir;
}

/** The path the gateway calls on the upstream for this provider, for a whole answer or a stream. */
export function upstreamPath(provider: BenchProvider, stream = false): string {
  if (provider === 'gemini') return `/v1beta/models/${GEMINI_BENCH_MODEL}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`;
  return provider === 'groq' ? '/openai/v1/chat/completions' : '/api/v1/chat/completions';
}

/**
 * `node src/server.ts` exactly as production starts it, with the one provider pointed at the fake.
 * Every setting that changes the hot path is given here, so a developer's .env cannot change the
 * result (dotenv never overrides a variable that is already set, even to "").
 */
export function startGateway(options: GatewayOptions): Promise<Child> {
  const { provider, upstream } = options;
  const root = options.root ?? ROOT;
  const start = startCommand(root);
  const flags = [...start.flags, ...options.nodeFlags.filter((flag) => !flag.startsWith('--cpu-prof'))];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    ...start.env,
    NODE_COMPILE_CACHE: compileCache(root, flags),
    NODE_ENV: 'production',
    API_KEYS: BENCH_KEY,
    HOST: '127.0.0.1',
    PORT: '0',
    PROVIDER_ORDER: provider,
    GEMINI_API_KEY: provider === 'gemini' ? 'bench' : '',
    GEMINI_BASE_URL: upstream,
    GEMINI_MODEL: GEMINI_BENCH_MODEL,
    GROQ_API_KEY: provider === 'groq' ? 'bench' : '',
    OPENROUTER_API_KEY: provider === 'openrouter' ? 'bench' : '',
    GROQ_BASE_URL: upstream,
    OPENROUTER_BASE_URL: `${upstream}/api/v1`,
    OPENROUTER_APP_URL: '',
    RATE_LIMIT_PER_MINUTE: '1000000',
    // One key sends every request, up to 50 connections' worth at a time.
    MAX_CONCURRENT_PER_KEY: '10000',
    // Quota tracking stays on (its cost is part of the figures), with limits the load never reaches.
    GEMINI_LIMITS: 'rpm=1000000000,rpd=1000000000',
    GROQ_LIMITS: 'rpm=1000000000,rpd=1000000000',
    OPENROUTER_LIMITS: 'rpm=1000000000,rpd=1000000000',
    // The start-up check of keys and models is off the request path; the fake serves no model list.
    PREFLIGHT_INTERVAL_MS: '0',
    LOG_LEVEL: 'info',
    SIMULATED_PROVIDERS: 'false',
    SIMULATED_FAULTS: '',
    TRUST_PROXY: 'false',
    MAX_RETRIES: '1',
    PROVIDER_TIMEOUT_MS: '5000',
    REQUEST_TIMEOUT_MS: '10000',
    FIRST_TOKEN_TIMEOUT_MS: '4000',
  };
  const name = options.name ?? 'gateway';
  const entry = options.variant === undefined ? 'src/server.ts' : here('./gateway-variant.ts');
  if (options.variant !== undefined) env.BENCH_VARIANT = options.variant;
  // The logs flow through a pipe to a process of their own, as they would to a log collector;
  // it passes on only the "listening" line.
  const sink = spawn(process.execPath, [here('./log-sink.ts')], { stdio: ['pipe', 'pipe', 'ignore'] });
  const child = spawn(process.execPath, [...start.flags, ...options.nodeFlags, entry], {
    cwd: root,
    env,
    stdio: ['ignore', sink.stdin, 'pipe'],
  });
  // The gateway holds the write end now; the sink ends when the gateway does.
  sink.stdin.destroy();
  const life = lifecycle(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
  });

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${name} did not start within 15 s\n${stderr}`)), 15_000);
    child.once('exit', (code) => reject(new Error(`the ${name} exited with code ${code} before it was ready\n${stderr}`)));
    let pending = '';
    let ready = false;
    sink.stdout.on('data', (chunk: Buffer) => {
      if (ready) return;
      pending += chunk.toString('utf8');
      let newline: number;
      while ((newline = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        const entry = safeJson(line);
        if (entry?.msg === 'listening' && typeof entry.address === 'string') {
          ready = true;
          pending = '';
          clearTimeout(timer);
          resolve({
            name,
            pid: child.pid as number,
            url: entry.address,
            get crashed() {
              return life.crashed;
            },
            stop: life.stop,
            kill: life.kill,
          });
          return;
        }
      }
    });
  });
}

function safeJson(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
