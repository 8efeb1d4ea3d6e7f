// What the Docker image does, without Docker: the Dockerfile is read, its dependency stage is
// replayed (a production-only `npm ci` from the lockfile) and its final stage's files are copied
// into a temporary folder, then `./start-app.sh` runs there with the image's environment, as the
// container would. No Docker engine is needed, and the Dockerfile cannot drift from what is tested.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnNode, spawnProcess, waitForOk, type Spawned } from '../helpers/process.ts';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const KEY = 'image-test-key-0123456789';

interface Stage {
  from: string;
  lines: string[];
}

/** The Dockerfile's stages, with continuation lines joined and comments dropped. */
function stages(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const result: Stage[] = [];
  for (const line of lines) {
    if (/^FROM\s/i.test(line)) result.push({ from: line.split(/\s+/)[1] ?? '', lines: [] });
    else result.at(-1)?.lines.push(line);
  }
  return result;
}

/** The sources of the COPY lines of a stage (those not copied from another stage). */
function copiedPaths(stage: Stage): string[] {
  return stage.lines
    .filter((line) => /^COPY\s/i.test(line) && !/--from=/.test(line))
    .flatMap((line) => {
      const words = line.split(/\s+/).slice(1).filter((word) => !word.startsWith('--'));
      return words.slice(0, -1);
    });
}

/** ENV lines of a stage, as a record (`ENV A=1 B=2`). */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stage.lines.filter((l) => /^ENV\s/i.test(l))) {
    for (const pair of line.split(/\s+/).slice(1)) {
      const [name, ...value] = pair.split('=');
      if (name) env[name] = value.join('=');
    }
  }
  return env;
}

function directoryBytes(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) total += directoryBytes(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}

const [depsStage, finalStage] = stages(dockerfile) as [Stage, Stage];
const WORKDIR = finalStage.lines.find((line) => line.startsWith('WORKDIR '))?.split(/\s+/)[1] ?? '/app';
/** The home of the official image's `node` user. */
const NODE_HOME = '/home/node';

describe('the Dockerfile', () => {
  it('builds on a slim Node 24 image and installs production dependencies only', () => {
    expect(stages(dockerfile)).toHaveLength(2);
    expect(depsStage.from).toMatch(/^node:24-[a-z]+-slim$/);
    expect(finalStage.from).toBe(depsStage.from);
    expect(depsStage.lines.some((line) => /^RUN .*npm ci --omit=dev/.test(line))).toBe(true);
    expect(finalStage.lines).toContain('COPY --chown=node:node --from=deps /app/node_modules ./node_modules');
  });

  it('runs as uid 1000, exposes 7860, checks /health and starts through start-app.sh', () => {
    expect(finalStage.lines).toContain('USER node');
    expect(finalStage.lines).toContain('EXPOSE 7860');
    expect(envOf(finalStage)).toMatchObject({ NODE_ENV: 'production', PORT: '7860', HOST: '0.0.0.0' });
    expect(finalStage.lines.find((line) => line.startsWith('HEALTHCHECK'))).toMatch(/\/health/);
    expect(finalStage.lines).toContain('ENTRYPOINT ["./start-app.sh"]');
    expect(statSync(join(ROOT, 'start-app.sh')).mode & 0o111).not.toBe(0);
  });

  it('starts Node exactly as npm start does', () => {
    const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    // `exec` in both: the shell is replaced by Node, so a SIGTERM reaches the server itself.
    expect(start).toMatch(/^exec /);
    expect(readFileSync(join(ROOT, 'start-app.sh'), 'utf8')).toContain(`\n${start}\n`);
  });

  it('keeps secrets, tests and local installs out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.env', '.env.*', '.git', 'node_modules', 'test']) expect(ignored).toContain(entry);
  });
});

describe('the image, replayed without Docker', () => {
  let app: string;
  let nodeModulesBytes = 0;
  let home: string;
  /** The final stage's ENV, with the image's WORKDIR and the node user's home mapped to temporary folders. */
  const imageEnv = () =>
    Object.fromEntries(Object.entries(envOf(finalStage)).map(([name, value]) => [name, value.replace(WORKDIR, app).replace(NODE_HOME, home)]));
  const started: Spawned[] = [];

  /** start-app.sh as the container's entry point runs it, on a loopback port. */
  async function startImage(env: Record<string, string>): Promise<{ server: Spawned; url: string; port: number }> {
    const port = await freePort();
    const server = spawnProcess('./start-app.sh', [], { ...imageEnv(), HOST: '127.0.0.1', PORT: String(port), ...env }, app);
    started.push(server);
    return { server, url: `http://127.0.0.1:${port}`, port };
  }

  beforeAll(async () => {
    const work = mkdtempSync(join(tmpdir(), 'secure-llm-router-image-'));
    const deps = join(work, 'deps');
    app = join(work, 'app');
    home = join(work, 'home');
    // Stage 1: the COPY lines, then a production-only install from the lockfile.
    for (const path of copiedPaths(depsStage)) cpSync(join(ROOT, path), join(deps, path), { recursive: true });
    await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: deps, timeout: 240_000 });
    // Stage 2: node_modules from stage 1, then the final stage's own COPY lines and RUN steps.
    mkdirSync(app);
    renameSync(join(deps, 'node_modules'), join(app, 'node_modules'));
    for (const path of copiedPaths(finalStage)) cpSync(join(ROOT, path), join(app, path), { recursive: true });
    for (const line of finalStage.lines.filter((l) => /^RUN\s/.test(l))) {
      await run('sh', ['-c', line.replace(/^RUN\s+/, '')], { cwd: app, env: { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, ...imageEnv() }, timeout: 60_000 });
    }
    nodeModulesBytes = directoryBytes(join(app, 'node_modules'));
  }, 300_000);

  afterAll(async () => {
    for (const { child, exited } of started) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
    if (app) rmSync(join(app, '..'), { recursive: true, force: true });
  });

  it('contains no development-only package and nothing but what runs', () => {
    // The lockfile marks every package that only development needs.
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([path, entry]) => path !== '' && entry.dev === true);
    expect(devOnly.map(([path]) => path)).toContain('node_modules/vitest');
    for (const [path] of devOnly) expect(existsSync(join(app, path)), path).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'fastify'))).toBe(true);
    expect(readdirSync(app).sort()).toEqual(['migrations', 'node_modules', 'package.json', 'src', 'start-app.sh']);
    // The compile cache written while building, for the uid that runs the server.
    expect(readdirSync(join(home, '.cache', 'node-compile-cache')).some((name) => name.endsWith(`-${process.getuid?.() ?? 0}`))).toBe(true);
  });

  it('starts in simulated mode, answers /health and /query, and passes its own HEALTHCHECK', async () => {
    const spawnedAt = performance.now();
    const { server, url, port } = await startImage({ API_KEYS: KEY, SIMULATED_PROVIDERS: 'true' });
    await waitForOk(`${url}/health`, 20_000);
    const coldStartMs = performance.now() - spawnedAt;
    console.log(
      `image: cold start (spawn to first 200 on /health) ${Math.round(coldStartMs)} ms, ` +
        `production node_modules ${(nodeModulesBytes / 1e6).toFixed(1)} MB`,
    );

    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', simulated: true });

    const answer = await fetch(`${url}/query`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'Hello from the image test' }),
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-request-id')).toBeTruthy();
    const body = (await answer.json()) as { response: string; provider: string };
    expect(body.provider).toBe('gemini');
    expect(body.response).toContain('Simulated');

    // The HEALTHCHECK's own command, run as Docker would run it inside the container.
    const check = JSON.parse(finalStage.lines.find((line) => line.startsWith('HEALTHCHECK'))?.replace(/^.*CMD\s+/, '') ?? '[]') as string[];
    expect(check[0]).toBe('node');
    const probe = spawnNode(check.slice(1), { PORT: String(port) }, app);
    expect(await probe.exited).toBe(0);

    expect(server.output()).toContain('providers: simulated');

    // exec replaced the shell: the process that answers is Node itself, with the allocator setting.
    const pid = server.child.pid as number;
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(['node', '--max-semi-space-size=4', 'src/server.ts', '']);
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain('MALLOC_MMAP_THRESHOLD_=16384');
  });

  it('reads every module from the compile cache built into the image: nothing is stripped or compiled again', async () => {
    const { server, url } = await startImage({ API_KEYS: KEY, SIMULATED_PROVIDERS: 'true', NODE_DEBUG_NATIVE: 'COMPILE_CACHE' });
    await waitForOk(`${url}/health`, 20_000);
    const log = server.output();
    expect(log).toContain('retrieving transpile cache for StrippedTypeScript');
    // A miss reads "no transpile cache" (TypeScript) or "was not initialized" / "was rejected" (V8).
    expect(log).not.toContain('no transpile cache');
    expect(log).not.toMatch(/code cache for \w+ file:\S+\/src\/\S+ was (not initialized|rejected)/);
  });

  it('drains on SIGTERM: the in-flight request completes, new connections are refused, exit 0', async () => {
    // Gemini answers after a second, so the request is in flight when SIGTERM arrives.
    const { server, url } = await startImage({ API_KEYS: KEY, SIMULATED_PROVIDERS: 'true', SIMULATED_FAULTS: 'gemini=slow' });
    await waitForOk(`${url}/health`, 20_000);
    const inFlight = fetch(`${url}/query`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ prompt: 'a slow one' }),
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));

    const late = await fetch(`${url}/health`, { headers: { connection: 'close' } }).then(
      (response) => response.status,
      () => 'refused' as const,
    );
    expect([503, 'refused']).toContain(late);

    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(((await response.json()) as { response: string }).response).toContain('Simulated');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('shutting down');
  });

  it.each([
    ['unset', {}],
    ['only blanks and commas', { API_KEYS: ' , \t' }],
  ])('refuses to start when API_KEYS is %s, with one clear line, and never listens', async (_, env: Record<string, string>) => {
    const { server, url } = await startImage({ SIMULATED_PROVIDERS: 'true', ...env });
    expect(await server.exited).toBe(1);
    expect(server.output().trim()).toBe(
      `start-app.sh: API_KEYS is not set; set it to a comma-separated list of client keys (make one with: node -p "require('node:crypto').randomBytes(24).toString('base64url')")`,
    );
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('refuses the development key and keys under 24 characters, with one line saying how to make a strong key, and never listens', async () => {
    const { server, url } = await startImage({ SIMULATED_PROVIDERS: 'true', API_KEYS: 'dev-key-change-me,short-secret-value' });
    expect(await server.exited).toBe(1);
    expect(server.output().trim().split('\n').at(-1)).toBe(
      'Invalid configuration: API_KEYS key-1 is the development key dev-key-change-me, which anyone can read in the README; key-2 is shorter than 24 characters. Generate each key with: openssl rand -hex 24 (only npm run dev accepts such keys)',
    );
    expect(server.output()).not.toContain('short-secret-value');
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('warns loudly when no provider key is set, and still serves /health as unavailable', async () => {
    // A key of only blanks is no key to the server, so it is none to start-app.sh either.
    const { server, url } = await startImage({ API_KEYS: KEY, GEMINI_API_KEY: '  ' });
    await waitForOk(`${url}/health`, 20_000);
    expect(server.output()).toContain('WARNING: no provider in PROVIDER_ORDER (gemini,groq,openrouter) has a key');
    expect(server.output()).not.toContain('providers configured');
    expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: 'unavailable', simulated: false });
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('warns when the only provider with a key is left out of PROVIDER_ORDER', async () => {
    const { server, url } = await startImage({ API_KEYS: KEY, GEMINI_API_KEY: 'AIza-placeholder', PROVIDER_ORDER: ' groq, openrouter ' });
    await waitForOk(`${url}/health`, 20_000);
    expect(server.output()).toContain('WARNING: no provider in PROVIDER_ORDER (groq,openrouter) has a key');
    expect(server.output()).not.toContain('providers configured');
    expect(server.output()).not.toContain('AIza-placeholder');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('names the configured providers and never prints their keys', async () => {
    const secret = 'gsk_image_test_secret_value_0123456789';
    // A closed loopback port: the key is never sent anywhere real.
    const { server, url } = await startImage({ API_KEYS: KEY, GROQ_API_KEY: secret, GROQ_BASE_URL: 'http://127.0.0.1:9' });
    await waitForOk(`${url}/health`, 20_000);
    const answer = await fetch(`${url}/query`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'hello' }),
    });
    expect(answer.status).toBe(503);
    expect(await answer.text()).not.toContain(secret);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('providers configured: groq');
    expect(server.output()).not.toContain(secret);
    expect(server.output()).not.toContain(KEY);
  });
});
