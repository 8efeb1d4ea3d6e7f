// `npm start` (src/server.ts) as a process: refuses bad configuration with one clear line,
// never simulates unless told to, and never loads the parts of Node it does not use.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, spawnNode, spawnProcess, waitForOk } from './helpers/process.ts';

/** A key as strong as npm start asks for (24 characters or more). */
const KEY = 'server-test-key-0123456789';
const run = promisify(execFile);

describe('npm start', () => {
  it('exits 1 with one line naming API_KEYS, its format, a command that makes a key, and npm run dev', async () => {
    const server = spawnNode(['src/server.ts'], {});
    expect(await server.exited).toBe(1);
    const lines = server.output().trim().split('\n');
    expect(lines).toEqual([
      `Invalid configuration: API_KEYS is required (the comma-separated keys clients will send; make one with: node -p "require('node:crypto').randomBytes(24).toString('base64url')"; or list clients in a KEYS_FILE instead; or run npm run dev to try the gateway with its development key)`,
    ]);
    // The command it gives, run as written, prints a key fit for API_KEYS.
    const command = /make one with: (node -p "[^"]+")/.exec(lines[0] ?? '')?.[1] ?? '';
    const { stdout } = await run('sh', ['-c', command]);
    expect(stdout).toMatch(/^[A-Za-z0-9_-]{32}\n$/);
  });

  it.each([
    ['the development key', 'dev-key-change-me', 'key-1 is the development key dev-key-change-me, which anyone can read in the README'],
    ['a key under 24 characters', `${KEY},short-secret-value-1`, 'key-2 is shorter than 24 characters'],
    [
      'both',
      `dev-key-change-me,${KEY},short-secret-value-1,x`,
      'key-1 is the development key dev-key-change-me, which anyone can read in the README; key-3, key-4 are shorter than 24 characters',
    ],
  ])('refuses %s with one line saying how to make a strong key, never echoing a key, and never listens', async (_, apiKeys, problem) => {
    const port = await freePort();
    const server = spawnNode(['src/server.ts'], { API_KEYS: apiKeys, PORT: String(port), HOST: '127.0.0.1', SIMULATED_PROVIDERS: 'true' });
    expect(await server.exited).toBe(1);
    expect(server.output().trim().split('\n')).toEqual([
      `Invalid configuration: API_KEYS ${problem}. Generate each key with: openssl rand -hex 24 (only npm run dev accepts such keys)`,
    ]);
    expect(server.output()).not.toContain('short-secret-value');
    expect(server.output()).not.toContain(KEY);
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });

  it('exits 1 naming a bad variable without echoing secrets', async () => {
    const server = spawnNode(['src/server.ts'], { API_KEYS: KEY, PORT: 'not-a-port', GROQ_API_KEY: 'gsk_secret_value' });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/PORT/);
    expect(server.output()).not.toContain('gsk_secret_value');
  });

  it('exits 1 with one line saying what to do when it cannot listen', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    try {
      const { port } = taken.address() as { port: number };
      const server = spawnNode(['src/server.ts'], { API_KEYS: KEY, PORT: String(port), HOST: '127.0.0.1' });
      expect(await server.exited).toBe(1);
      expect(server.output().trim().split('\n')).toEqual([`Cannot listen on 127.0.0.1 port ${port} (EADDRINUSE): another process is using that port: stop it, or choose another PORT`]);
    } finally {
      taken.close();
    }
  });

  it('hands a SIGTERM sent to npm to the server, which drains and stops', async () => {
    const port = await freePort();
    const npm = spawnProcess('npm', ['start', '--silent'], { API_KEYS: KEY, PORT: String(port), HOST: '127.0.0.1' });
    try {
      await waitForOk(`http://127.0.0.1:${port}/health`);
      npm.child.kill('SIGTERM');
      await npm.exited;
      // Had npm's shell kept Node as its child, Node would never have seen the signal and would
      // still be listening.
      await expect.poll(() => npm.output()).toContain('"msg":"stopped"');
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    } finally {
      npm.stop();
    }
  });

  it('says so, and exits 1, when requests are still running at the end of SHUTDOWN_GRACE_MS', async () => {
    const port = await freePort();
    const server = spawnNode(['src/server.ts'], {
      API_KEYS: KEY,
      PORT: String(port),
      HOST: '127.0.0.1',
      SIMULATED_PROVIDERS: 'true',
      SIMULATED_FAULTS: 'gemini=hang,groq=hang,openrouter=hang',
      SHUTDOWN_GRACE_MS: '300',
      PROVIDER_TIMEOUT_MS: '100',
      REQUEST_TIMEOUT_MS: '60000',
      MAX_RETRIES: '10',
    });
    try {
      await waitForOk(`http://127.0.0.1:${port}/health`);
      const hanging = fetch(`http://127.0.0.1:${port}/query`, {
        method: 'POST',
        headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'Hello' }),
      }).catch((error: Error) => error);
      // SIGTERM once the request is under way: its first attempt has timed out, and the retries
      // of the last provider keep it going for seconds more.
      await expect.poll(() => server.output(), { timeout: 5_000 }).toContain('provider gemini failed');
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(1);
      expect(server.output()).toContain('requests still in flight after SHUTDOWN_GRACE_MS');
      expect(await hanging).toBeInstanceOf(Error);
    } finally {
      server.stop();
    }
  });

  it('does not simulate unless told to, and warns that no provider is configured', async () => {
    const port = await freePort();
    const server = spawnNode(['src/server.ts'], { API_KEYS: KEY, PORT: String(port), HOST: '127.0.0.1' });
    try {
      await waitForOk(`http://127.0.0.1:${port}/health`);
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ status: 'unavailable', simulated: false });
      // A warning, so LOG_LEVEL=warn keeps it, naming the variables that fix it. Logged
      // asynchronously: it may reach stdout just after the server answers.
      await expect.poll(() => server.output()).toContain('no provider is configured');
      const line = server.output().split('\n').find((text) => text.includes('no provider is configured'));
      expect(JSON.parse(line ?? '{}')).toMatchObject({
        level: 40,
        msg: 'listening, but no provider is configured: every /query will answer 503 until GEMINI_API_KEY, GROQ_API_KEY or OPENROUTER_API_KEY is set',
      });
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });

  it("answers whole and streamed requests without loading Node's bundled undici or web streams, which it has no use for", async () => {
    const port = await freePort();
    // On SIGWINCH (which nothing in the server listens for) the process lists the built-in
    // modules it has loaded that matter here, plus node:http as proof the list is the real one.
    const report = `process.on('SIGWINCH', () => process.stderr.write('LOADED ' + JSON.stringify(process.moduleLoadList.filter((m) => /undici|webstreams|^NativeModule http$/.test(m))) + '\\n'))`;
    const server = spawnNode([`--import=data:text/javascript,${encodeURIComponent(report)}`, 'src/server.ts'], {
      API_KEYS: KEY,
      SIMULATED_PROVIDERS: 'true',
      PORT: String(port),
      HOST: '127.0.0.1',
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitForOk(`${base}/health`);
      const headers = { 'x-api-key': KEY, 'content-type': 'application/json' };
      const whole = await fetch(`${base}/query`, { method: 'POST', headers, body: JSON.stringify({ prompt: 'Hello' }) });
      expect(whole.status).toBe(200);
      const streamed = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'Hello' }] }),
      });
      expect(streamed.status).toBe(200);
      expect(await streamed.text()).toContain('data: [DONE]');
      server.child.kill('SIGWINCH');
      await expect.poll(() => server.output()).toContain('LOADED ');
      const loaded = JSON.parse(/LOADED (.*)/.exec(server.output())?.[1] ?? 'null') as string[];
      expect(loaded).toEqual(['NativeModule http']);
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });
});
