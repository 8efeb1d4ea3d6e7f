// On a machine whose Node is older than the sources need (a fresh Debian or Ubuntu has Node 20):
// the README's commands stop at once with one message saying which Node was found, which one is
// needed and how to get it, instead of a stack trace or a watcher waiting for file changes.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnProcess } from './helpers/process.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
/** "22.19", from package.json's `>=22.19.0`. */
const needed = /^>=(\d+\.\d+)\.0$/.exec(pkg.engines.node)?.[1] ?? '';

function versionOf(node: string): string {
  return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
}
const tooOld = (version: string) => {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [neededMajor = 0, neededMinor = 0] = needed.split('.').map(Number);
  return major < neededMajor || (major === neededMajor && minor < neededMinor);
};

/** OLD_NODE_PATH (.ci/run and CI install Node 20 from the npm registry), else the system's Node if it is older. */
function findOldNode(): string | undefined {
  const given = process.env.OLD_NODE_PATH;
  if (given) {
    if (!tooOld(versionOf(given))) throw new Error(`OLD_NODE_PATH=${given} is Node ${versionOf(given)}, not older than ${needed}`);
    return given;
  }
  return ['/usr/bin/node', '/usr/local/bin/node'].find((path) => existsSync(path) && tooOld(versionOf(path)));
}

const oldNode = findOldNode();
if (!oldNode && process.env.CI !== 'true') console.warn(`no Node older than ${needed} found: set OLD_NODE_PATH to one (npm i --prefix ~/.cache/node20 node@20)`);

describe('the README commands on an older Node', () => {
  it('has an older Node to run them with (in CI it must)', () => {
    if (process.env.CI === 'true') expect(oldNode, 'CI needs OLD_NODE_PATH, or a system Node older than the one required').toBeDefined();
  });

  describe.runIf(oldNode !== undefined)('with it first on PATH', () => {
    const node = oldNode ?? '';
    const found = node ? versionOf(node) : '';
    // npm itself runs on the old Node too, as it would on that machine.
    const env = { PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`, npm_config_update_notifier: 'false' };
    const work = mkdtempSync(join(tmpdir(), 'secure-llm-router-old-node-'));
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it.each([
      ['npm run dev', ['run', 'dev']],
      ['npm test', ['test']],
      ['npm start', ['start']],
    ])('%s stops at once with one message naming both versions and how to get Node 24', async (command, args) => {
      const npm = spawnProcess('npm', args, { ...env, API_KEYS: 'k', PORT: '0' }, ROOT);
      try {
        expect(await npm.exited).toBe(1);
        const output = npm.output();
        const message = `secure-llm-router needs Node.js ${needed} or newer (24 LTS recommended); this is Node.js ${found} (${node}).`;
        expect(output.split(message)).toHaveLength(2);
        expect(output).toContain('Get Node 24 with `nvm install` or `fnm use --install-if-missing` (both read .nvmrc),');
        expect(output).toContain(`or run each npm command with Node 24 from the npm registry: npx -y -p node@24 -- ${command}\n`);
        expect(output).not.toContain('ERR_UNKNOWN_FILE_EXTENSION');
        expect(output).not.toContain('Waiting for file changes');
      } finally {
        npm.stop();
      }
    });

    it('start-app.sh says the same in one line', async () => {
      const script = spawnProcess('./start-app.sh', [], { ...env, API_KEYS: 'k', PORT: '0' }, ROOT);
      expect(await script.exited).toBe(1);
      expect(script.output().trim()).toBe(
        `start-app.sh: this gateway needs Node.js ${needed} or newer (24 LTS recommended); this is Node.js ${found}: run the Docker image (Node 24), or install Node 24 (nvm install 24)`,
      );
    });

    it('npm ci refuses to install, naming the Node it needs and the one it found, before it fetches anything', async () => {
      for (const file of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(join(ROOT, file), join(work, file));
      const npm = spawnProcess('npm', ['ci', '--no-audit', '--no-fund'], env, work);
      expect(await npm.exited).not.toBe(0);
      expect(npm.output()).toContain('EBADENGINE');
      expect(npm.output()).toContain(`Required: {"node":"${pkg.engines.node}"}`);
      expect(npm.output()).toContain(`"node":"v${found}"`);
      expect(readdirSync(work)).not.toContain('node_modules');
    });
  });

  it('names Node 24 in .nvmrc, for nvm and fnm', () => {
    expect(readFileSync(join(ROOT, '.nvmrc'), 'utf8')).toBe('24\n');
  });
});
