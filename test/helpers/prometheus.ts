// A real Prometheus (Debian's `prometheus` package) on loopback with a throwaway data directory,
// for the tests that check what the gateway exports against the tool that reads it. CI installs
// the package and sets REQUIRE_PROMETHEUS=1, so there these tests always run.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, spawnProcess, type Spawned } from './process.ts';

export const run = promisify(execFile);

export const PROMETHEUS = process.env.PROMETHEUS_PATH ?? 'prometheus';
export const PROMTOOL = process.env.PROMTOOL_PATH ?? 'promtool';

const installed = async (command: string) =>
  run(command, ['--version']).then(
    () => true,
    () => false,
  );
export const hasPrometheus = (await installed(PROMETHEUS)) && (await installed(PROMTOOL));
const required = process.env.REQUIRE_PROMETHEUS === '1';
if (!hasPrometheus && !required) console.warn('prometheus/promtool are not installed: the Prometheus tests are not run here (apt-get install prometheus)');
/** Run the Prometheus tests: where it is installed, and always in CI (where a missing one fails them). */
export const runWithPrometheus = hasPrometheus || required;

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RunningPrometheus {
  url: string;
  /** An instant query through the HTTP API; rejects with Prometheus's error for invalid PromQL. */
  query(expr: string): Promise<PromSample[]>;
  /** Polls `expr` until `done` says its result will do; returns that result. */
  until(expr: string, done: (samples: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  api<T>(path: string): Promise<T>;
  output(): string;
  close(): Promise<void>;
}

/** Starts Prometheus with this configuration (YAML text) and waits until it is ready. */
export async function startPrometheus(config: string): Promise<RunningPrometheus> {
  const folder = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const configFile = join(folder, 'prometheus.yml');
  writeFileSync(configFile, config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server: Spawned = spawnProcess(PROMETHEUS, [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(folder, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], {});

  const close = async () => {
    server.child.kill('SIGTERM');
    await Promise.race([server.exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    server.stop();
    rmSync(folder, { recursive: true, force: true });
  };

  async function api<T>(path: string): Promise<T> {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? response.status}`);
    return body.data;
  }
  const query = async (expr: string) => (await api<{ result: PromSample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result;

  async function until(expr: string, done: (samples: PromSample[]) => boolean, timeoutMs = 30_000): Promise<PromSample[]> {
    const started = performance.now();
    let last: PromSample[] = [];
    while (performance.now() - started < timeoutMs) {
      last = await query(expr);
      if (done(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`${expr} did not come to the expected result within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
  }

  try {
    const started = performance.now();
    for (;;) {
      if (server.child.exitCode !== null) throw new Error(`prometheus exited: ${server.output()}`);
      const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (performance.now() - started > 30_000) throw new Error(`prometheus was not ready within 30 s: ${server.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { url, query, until, api, output: server.output, close };
}
