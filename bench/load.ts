// One round of load against one target with autocannon, keeping every 2xx latency so the
// percentiles are exact to the microsecond, and reading the target's CPU time around it.
import autocannon from 'autocannon';
import { cpuMicros, machineTicks, rssMegabytes, stealPercent } from './processes.ts';
import { percentile, Samples } from './stats.ts';

export type TargetName = 'direct' | 'proxy' | 'gateway' | 'baseline';

export interface Target {
  name: TargetName;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The process whose CPU and memory are charged to this target (none for direct). */
  pid?: number;
}

export interface RoundResult {
  target: Target['name'];
  connections: number;
  requests: number;
  requestsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Non-2xx answers, socket errors and timeouts: a correct round has none. */
  failures: number;
  /** CPU time of the target's process per answered request, in microseconds. */
  cpuMicrosPerRequest: number;
  /** The target's RSS right after the round, in MB. */
  rssMb: number;
  /** Share of the machine's CPU time the hypervisor gave elsewhere during the round. */
  stealPct: number;
}

export function runRound(target: Target, connections: number, durationSeconds: number): Promise<RoundResult> {
  const latencies = new Samples();
  let failures = 0;
  const cpuBefore = target.pid === undefined ? Number.NaN : cpuMicros(target.pid);
  const ticksBefore = machineTicks();
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        method: 'POST',
        headers: target.headers,
        body: target.body,
        connections,
        pipelining: 1,
        duration: durationSeconds,
        timeout: 10,
      },
      (error, result) => {
        if (error) return reject(error);
        const elapsedSeconds = (performance.now() - started) / 1000;
        const cpu = target.pid === undefined ? Number.NaN : cpuMicros(target.pid) - cpuBefore;
        const sorted = latencies.sorted();
        resolve({
          target: target.name,
          connections,
          requests: sorted.length,
          requestsPerSecond: sorted.length / (result.duration > 0 ? result.duration : elapsedSeconds),
          p50: percentile(sorted, 50),
          p90: percentile(sorted, 90),
          p99: percentile(sorted, 99),
          max: percentile(sorted, 100),
          failures: failures + result.errors + result.timeouts,
          cpuMicrosPerRequest: sorted.length > 0 ? cpu / (sorted.length + failures) : Number.NaN,
          rssMb: target.pid === undefined ? Number.NaN : rssMegabytes(target.pid),
          stealPct: stealPercent(ticksBefore, machineTicks()),
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.add(responseTime);
      else failures += 1;
    });
  });
}
