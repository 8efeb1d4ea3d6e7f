// scripts/push-to-space.sh, pushed to a local bare repository standing in for the Space: one
// snapshot commit of HEAD's tree, images as Git LFS pointers (the Hub refuses binaries kept in
// plain Git), the LFS objects uploaded, nothing that is not committed.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const SCRIPT = join(ROOT, 'scripts', 'push-to-space.sh');
const git = async (cwd: string, ...args: string[]) => (await run('git', args, { cwd, maxBuffer: 16 * 1024 * 1024 })).stdout;
const hasGitLfs = await run('git', ['lfs', 'version']).then(
  () => true,
  () => false,
);
// CI installs git-lfs and sets this, so there the push is always exercised.
const required = process.env.REQUIRE_GIT_LFS === '1';
if (!hasGitLfs && !required) console.warn('git-lfs is not installed: the push to a Space is not exercised here (apt-get install git-lfs)');

/** The script with a clean environment, from the repository. */
function pushToSpace(args: string[], env: Record<string, string>) {
  return run('sh', [SCRIPT, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } });
}

describe('scripts/push-to-space.sh', () => {
  it('refuses to run without a Space name or a token', async () => {
    await expect(pushToSpace([], {})).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('usage: push-to-space.sh <user>/<space>') });
    await expect(pushToSpace(['me/space'], {})).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('HF_TOKEN is not set') });
  });

  describe.runIf(hasGitLfs || required)('pushed to a stand-in Space', () => {
    let work: string;
    let space: string;
    let head: string;
    let stdout: string;

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'secure-llm-router-space-'));
      space = join(work, 'space.git');
      await git(work, 'init', '-q', '--bare', space);
      head = (await git(ROOT, 'rev-parse', 'HEAD')).trim();
      ({ stdout } = await pushToSpace(['me/secure-llm-router'], { SPACE_REMOTE: `file://${space}` }));
    }, 60_000);
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it('pushes one commit whose tree is HEAD plus the LFS rules', async () => {
      expect(stdout).toContain(`pushed ${head} to me/secure-llm-router`);
      expect((await git(space, 'log', '--format=%s', 'main')).trim()).toBe(`Deploy ${head}`);
      const pushed = (await git(space, 'ls-tree', '-r', '--name-only', 'main')).trim().split('\n');
      const committed = (await git(ROOT, 'ls-tree', '-r', '--name-only', 'HEAD')).trim().split('\n');
      expect(pushed.filter((path) => path !== '.gitattributes').sort()).toEqual(committed.sort());
      expect(pushed).toContain('Dockerfile');
      expect(pushed).not.toContain('.env');
      // The Space reads its settings from the README's front matter.
      expect((await git(space, 'show', 'main:README.md')).startsWith('---\ntitle: secure-llm-router\n')).toBe(true);
    });

    it('stores every image as a Git LFS pointer, with the object uploaded', async () => {
      expect(await git(space, 'show', 'main:.gitattributes')).toContain('*.png filter=lfs diff=lfs merge=lfs -text');
      const images = (await git(space, 'ls-tree', '-r', '--name-only', 'main')).split('\n').filter((path) => /\.(png|jpe?g|gif|webp)$/.test(path));
      expect(images).toContain('docs/images/docs-query.png');
      for (const image of images) {
        const pointer = await git(space, 'show', `main:${image}`);
        expect(pointer, image).toMatch(/^version https:\/\/git-lfs\.github\.com\/spec\/v1\noid sha256:([0-9a-f]{64})\nsize \d+\n$/);
        const oid = /oid sha256:([0-9a-f]{64})/.exec(pointer)?.[1] ?? '';
        expect(readdirSync(join(space, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4)))).toContain(oid);
      }
    });
  });
});
