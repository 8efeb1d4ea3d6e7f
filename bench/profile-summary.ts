// Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time,
// and self time grouped by where the code lives (a package, Node's internals, our src/).
//
//   node bench/profile-summary.ts <file.cpuprofile> [top=30]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  /** Share of the busy (non-idle) time. */
  pct: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  functions: ProfileEntry[];
  areas: ProfileEntry[];
}

/** "undici", "fastify", "node:internal/..." → "node internals", "src/providers" → ours, etc. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return url.startsWith('node:internal/deps/undici') ? 'undici (bundled in node)' : 'node internals';
  const ours = /\/(src|bench)\/(.*)$/.exec(url);
  if (ours) return `${ours[1]}/${(ours[2] as string).split('/').slice(0, -1).join('/') || '.'}`.replace(/\/\.$/, '');
  return url;
}

function shortPlace(url: string, line: number): string {
  const trimmed = url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/');
  return url === '' ? '' : `${trimmed}:${line + 1}`;
}

export function summariseProfile(profile: CpuProfile, top = 30): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; charge it to the sample's node.
  for (let i = 0; i < profile.samples.length; i += 1) {
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
  }
  const functions = new Map<string, { name: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const name = frame.functionName || '(anonymous)';
    const where = shortPlace(frame.url, frame.lineNumber);
    const key = `${name}@${where}`;
    const entry = functions.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    const area = areaOf(frame.url, frame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const pct = (us: number) => (busyUs === 0 ? 0 : (us / busyUs) * 100);
  return {
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    functions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, selfMs: f.us / 1000, pct: pct(f.us) })),
    areas: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, where: '', selfMs: us / 1000, pct: pct(us) })),
  };
}

export function formatProfile(summary: ProfileSummary, areasShown = 15): string {
  const line = (e: ProfileEntry) => `${e.pct.toFixed(1).padStart(5)}%  ${e.selfMs.toFixed(0).padStart(7)} ms  ${e.name}${e.where ? `  ${e.where}` : ''}`;
  return [
    `busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms`,
    'self time by area:',
    ...summary.areas.slice(0, areasShown).map(line),
    'top functions by self time:',
    ...summary.functions.map(line),
  ].join('\n');
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

if (import.meta.main) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile> [top=30]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatProfile(summariseProfile(readProfile(file), Number(top ?? 30)))}\n`);
}
