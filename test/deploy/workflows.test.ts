// The GitHub workflows, parsed as YAML and checked against the README, so CI keeps running the
// documented test command and the deployment keeps waiting for CI.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  jobs: Record<string, { if?: string; steps: Step[] }>;
}

const ci = parse(read('.github/workflows/ci.yml')) as Workflow;
const deploy = parse(read('.github/workflows/deploy.yml')) as Workflow;
const steps = (workflow: Workflow) => Object.values(workflow.jobs).flatMap((job) => job.steps);

/** The README's quick start: the first bash block after "## Quick start", one command per line. */
function quickStart(): string[] {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block.trim().split('\n');
}

describe('the CI workflow', () => {
  it('runs on every push and pull request', () => {
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push']);
  });

  it('uses Node 24 and installs from the lockfile', () => {
    const setup = steps(ci).find((step) => step.uses?.startsWith('actions/setup-node@'));
    expect(String(setup?.with?.['node-version'])).toBe('24');
    expect(steps(ci).map((step) => step.run)).toContain('npm ci');
  });

  it("runs the README's test command, after installing", () => {
    const [run, test] = quickStart();
    expect(run).toBe('npm ci && npm run dev');
    expect(test).toBe('npm test');
    const commands = steps(ci).map((step) => step.run);
    expect(commands).toContain(test);
    expect(commands.indexOf(test)).toBeGreaterThan(commands.indexOf('npm ci'));
  });
});

describe('the deploy workflow', () => {
  it('runs after CI completes on main, and only when it succeeded', () => {
    expect(deploy.on.workflow_run).toEqual({ workflows: [ci.name], types: ['completed'], branches: ['main'] });
    const job = Object.values(deploy.jobs)[0];
    expect(job?.if).toContain("github.event.workflow_run.conclusion == 'success'");
  });

  it('pushes with scripts/push-to-space.sh to the Space named by HF_SPACE, the token from the HF_TOKEN secret', () => {
    const push = steps(deploy).find((step) => step.run?.includes('push-to-space.sh'));
    expect(push?.env).toEqual({ HF_TOKEN: '${{ secrets.HF_TOKEN }}', HF_SPACE: '${{ vars.HF_SPACE }}' });
    expect(push?.run).toContain('scripts/push-to-space.sh "$HF_SPACE"');
    expect(push?.run).not.toContain('secrets.');
    expect(read('scripts/push-to-space.sh')).toContain('https://user:${HF_TOKEN}@huggingface.co/spaces/${space}');
  });
});
