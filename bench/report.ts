// Turns the rounds into per-connection summaries (medians over rounds, with their spread), the
// printed tables, and the pass/fail list against the targets.
import type { RoundResult, TargetName } from './load.ts';
import { spread, type Spread } from './stats.ts';
import type { StreamSummary } from './streaming.ts';

export interface TargetSummary {
  rounds: number;
  requestsPerSecond: Spread;
  p50: Spread;
  p90: Spread;
  p99: Spread;
  cpuMicrosPerRequest: Spread;
  rssMb: Spread;
  stealPct: Spread;
  /** RSS after each round, in order. */
  rssByRound: number[];
  failures: number;
}

export interface Comparison {
  addedP50: Spread;
  addedP99: Spread;
  throughputRatio: Spread;
  /** CPU per request of the one over the other (targets with their own process only). */
  cpuRatio: Spread;
}

export interface LevelSummary {
  connections: number;
  targets: Partial<Record<TargetName, TargetSummary>>;
  /** Paired by round: the gateway's figure against direct's from the same round. */
  gatewayVsDirect?: Comparison;
  gatewayVsProxy?: Comparison;
  gatewayVsBaseline?: Comparison;
}

export interface Check {
  goal: string;
  value: string;
  pass: boolean | undefined;
}

function summariseTarget(rounds: RoundResult[]): TargetSummary {
  return {
    rounds: rounds.length,
    requestsPerSecond: spread(rounds.map((r) => r.requestsPerSecond)),
    p50: spread(rounds.map((r) => r.p50)),
    p90: spread(rounds.map((r) => r.p90)),
    p99: spread(rounds.map((r) => r.p99)),
    cpuMicrosPerRequest: spread(rounds.map((r) => r.cpuMicrosPerRequest)),
    rssMb: spread(rounds.map((r) => r.rssMb)),
    stealPct: spread(rounds.map((r) => r.stealPct)),
    rssByRound: rounds.map((r) => r.rssMb),
    failures: rounds.reduce((sum, r) => sum + r.failures, 0),
  };
}

function compare(ours: RoundResult[], base: RoundResult[]): Comparison {
  const pairs = ours.map((r, i) => [r, base[i]] as const).filter((pair): pair is readonly [RoundResult, RoundResult] => pair[1] !== undefined);
  return {
    addedP50: spread(pairs.map(([a, b]) => a.p50 - b.p50)),
    addedP99: spread(pairs.map(([a, b]) => a.p99 - b.p99)),
    throughputRatio: spread(pairs.map(([a, b]) => a.requestsPerSecond / b.requestsPerSecond)),
    cpuRatio: spread(pairs.map(([a, b]) => a.cpuMicrosPerRequest / b.cpuMicrosPerRequest)),
  };
}

export function summariseLevel(connections: number, rounds: RoundResult[]): LevelSummary {
  const of = (name: TargetName) => rounds.filter((r) => r.target === name);
  const summary: LevelSummary = { connections, targets: {} };
  for (const name of ['direct', 'proxy', 'baseline', 'gateway'] as const) {
    if (of(name).length > 0) summary.targets[name] = summariseTarget(of(name));
  }
  const gateway = of('gateway');
  if (gateway.length > 0 && of('direct').length > 0) summary.gatewayVsDirect = compare(gateway, of('direct'));
  if (gateway.length > 0 && of('proxy').length > 0) summary.gatewayVsProxy = compare(gateway, of('proxy'));
  if (gateway.length > 0 && of('baseline').length > 0) summary.gatewayVsBaseline = compare(gateway, of('baseline'));
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Printing

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function whole(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

/** "median (min–max)". */
function cell(s: Spread, format: (v: number) => string): string {
  if (!Number.isFinite(s.median)) return 'n/a';
  return s.min === s.max ? format(s.median) : `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((text, column) => pad(text, (widths[column] ?? 0) + 2)).join('').trimEnd()).join('\n');
}

export function noiseWord(pct: number): string {
  if (!Number.isFinite(pct)) return 'n/a';
  if (pct < 5) return 'quiet';
  if (pct < 15) return 'some noise';
  return 'noisy';
}

export function formatLevel(level: LevelSummary, rounds: number, duration: number): string {
  const ms = (v: number) => fixed(v, 2);
  const header = ['target', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'CPU µs/req', 'RSS MB', 'failed'];
  const rows = [header];
  for (const [name, s] of Object.entries(level.targets)) {
    rows.push([
      name,
      cell(s.requestsPerSecond, whole),
      cell(s.p50, ms),
      cell(s.p90, ms),
      cell(s.p99, ms),
      cell(s.cpuMicrosPerRequest, whole),
      cell(s.rssMb, (v) => fixed(v, 0)),
      String(s.failures),
    ]);
  }
  const lines = [
    `── ${level.connections} connection${level.connections === 1 ? '' : 's'}: median (min–max) over ${rounds} rounds of ${duration} s ──`,
    table(rows),
  ];
  const ratio = (v: number) => fixed(v, 2);
  const describe = (label: string, c: Comparison, withCpu: boolean) =>
    `${label}: added p50 ${cell(c.addedP50, ms)} ms, added p99 ${cell(c.addedP99, ms)} ms, throughput ×${cell(c.throughputRatio, ratio)}` +
    (withCpu ? `, CPU per request ×${cell(c.cpuRatio, ratio)}` : '');
  if (level.gatewayVsDirect) lines.push(describe('gateway vs direct  ', level.gatewayVsDirect, false));
  if (level.gatewayVsProxy) lines.push(describe('gateway vs proxy   ', level.gatewayVsProxy, true));
  if (level.gatewayVsBaseline) lines.push(describe('gateway vs baseline', level.gatewayVsBaseline, true));
  const noise = Object.entries(level.targets)
    .map(([name, s]) => `${name} ±${fixed(s.requestsPerSecond.noisePct, 1)}%`)
    .join(', ');
  const worst = Math.max(...Object.values(level.targets).map((s) => s.requestsPerSecond.noisePct));
  const steal = spread(Object.values(level.targets).flatMap((s) => [s.stealPct.min, s.stealPct.max]));
  lines.push(
    `noise: req/s half-range over rounds ${noise} → ${noiseWord(worst)}; ` +
      `CPU steal (time the host gave other guests) ${fixed(steal.min, 0)}–${fixed(steal.max, 0)}% of the machine`,
  );
  return lines.join('\n');
}

export function formatStreaming(summaries: StreamSummary[]): string {
  const ms = (v: number) => fixed(v, 2);
  const rows = [['target', 'requests', 'first byte p50/p90/p99 ms', 'first token p50/p90/p99 ms', 'last byte p50/p90/p99 ms', 'CPU µs/req', 'failed']];
  for (const s of summaries) {
    const triple = (t: { p50: number; p90: number; p99: number }) => `${ms(t.p50)} / ${ms(t.p90)} / ${ms(t.p99)}`;
    rows.push([s.target, String(s.requests), triple(s.firstByte), triple(s.firstToken), triple(s.lastByte), whole(s.cpuMicrosPerRequest), String(s.failures)]);
  }
  const gateway = summaries.find((s) => s.target === 'gateway');
  const lines = ['── streaming, 1 request at a time ──', table(rows)];
  const signed = (v: number) => `${v >= 0 ? '+' : ''}${ms(v)}`;
  // Against the proxy too: what the gateway adds beyond the hop any Node process in between costs.
  for (const other of summaries.filter((s) => s.target === 'direct' || s.target === 'proxy' || s.target === 'baseline')) {
    if (!gateway) break;
    lines.push(
      `gateway vs ${other.target}: first token ${signed(gateway.firstToken.p50 - other.firstToken.p50)} ms (p50), ` +
        `${signed(gateway.firstToken.p99 - other.firstToken.p99)} ms (p99); last byte ${signed(gateway.lastByte.p50 - other.lastByte.p50)} ms (p50)`,
    );
  }
  return lines.join('\n');
}

export function checks(levels: LevelSummary[], rssSeries: number[], streaming: StreamSummary[] | undefined): Check[] {
  const at = (connections: number) => levels.find((l) => l.connections === connections);
  const result: Check[] = [];
  const one = at(1)?.gatewayVsDirect;
  if (one) {
    result.push({ goal: 'added p50 ≤ 0.5 ms at 1 connection', value: `${fixed(one.addedP50.median, 2)} ms`, pass: one.addedP50.median <= 0.5 });
    result.push({ goal: 'added p99 ≤ 2 ms at 1 connection', value: `${fixed(one.addedP99.median, 2)} ms`, pass: one.addedP99.median <= 2 });
  }
  const ten = at(10)?.targets.gateway;
  if (ten) {
    result.push({ goal: '≥ 4,000 req/s at 10 connections', value: `${whole(ten.requestsPerSecond.median)} req/s`, pass: ten.requestsPerSecond.median >= 4000 });
    const cpu = ten.cpuMicrosPerRequest.median;
    result.push({ goal: 'gateway CPU ≤ 250 µs/request at 10 connections', value: `${whole(cpu)} µs`, pass: Number.isFinite(cpu) ? cpu <= 250 : undefined });
    // The same target relative to a bare Node hop (250 µs where the hop costs 65 µs), which
    // carries over between machines better than microseconds do.
    const relative = at(10)?.gatewayVsProxy?.cpuRatio.median;
    if (relative !== undefined && Number.isFinite(relative)) {
      result.push({ goal: 'gateway CPU ≤ 3.85 × the bare proxy hop at 10 connections (250/65)', value: `×${fixed(relative, 2)}`, pass: relative <= 250 / 65 });
    }
  }
  if (rssSeries.length > 0) {
    const max = Math.max(...rssSeries);
    result.push({ goal: 'RSS ≤ 120 MB after load', value: `${fixed(max, 0)} MB (max over rounds)`, pass: Number.isFinite(max) ? max <= 120 : undefined });
  }
  // Flat: at a given load, the last round holds no more memory than the first (a leak grows).
  const growths = levels
    .map((level) => ({ level, rss: level.targets.gateway?.rssByRound ?? [] }))
    .filter(({ rss }) => rss.length >= 2)
    .map(({ level, rss }) => ({ connections: level.connections, growth: (rss[rss.length - 1] as number) - (rss[0] as number) }));
  if (growths.length > 0) {
    const worst = growths.reduce((a, b) => (b.growth > a.growth ? b : a));
    result.push({
      goal: 'RSS flat across rounds at each connection count (last ≤ first + 10 MB)',
      value: growths.map((g) => `c=${g.connections}: ${g.growth >= 0 ? '+' : ''}${fixed(g.growth, 0)} MB`).join(', '),
      pass: Number.isFinite(worst.growth) ? worst.growth <= 10 : undefined,
    });
  }
  const direct = streaming?.find((s) => s.target === 'direct');
  const gateway = streaming?.find((s) => s.target === 'gateway');
  if (direct && gateway) {
    const added = gateway.firstToken.p50 - direct.firstToken.p50;
    result.push({ goal: 'streaming adds ≤ 1 ms to the first token (p50)', value: `${fixed(added, 2)} ms`, pass: added <= 1 });
  }
  return result;
}

export function formatChecks(list: Check[]): string {
  const mark = (pass: boolean | undefined) => (pass === undefined ? '  ?  ' : pass ? ' ok  ' : ' MISS');
  return ['── targets ──', ...list.map((c) => `${mark(c.pass)} ${pad(c.goal, 68)} ${c.value}`)].join('\n');
}
