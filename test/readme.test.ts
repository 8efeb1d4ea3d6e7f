// The README's curl examples and its TypeScript example, run as written against `npm run dev`
// (src/dev.ts), with only the port changed so the test never collides with a running instance.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnNode, waitForOk, type Spawned } from './helpers/process.ts';

const run = promisify(execFile);
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** Every fenced bash block that starts with curl, joined across line continuations. */
function curlExamples(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  return blocks.map((b) => b.trim()).filter((b) => b.startsWith('curl '));
}

describe('README examples against npm run dev', () => {
  let dev: Spawned;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    // Every example here shares one key: more calls than the default 10 a minute.
    dev = spawnNode(['src/dev.ts'], { PORT: String(port), NO_PRETTY_LOGS: '1', LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '100' });
    await waitForOk(`http://127.0.0.1:${port}/health`);
  });
  afterAll(async () => {
    dev.child.kill('SIGTERM');
    await dev.exited;
  });

  it('prints a usable development key and says the providers are simulated', () => {
    expect(dev.output()).toContain('API key:   dev-key-change-me');
    expect(dev.output()).toContain('simulated');
  });

  const examples = curlExamples(readme);
  it('has curl examples to check', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
  });

  it.each(examples.map((example, index) => [index, example]))('example %i works as written', async (_index, example) => {
    const command = example.replaceAll('http://localhost:7860', `http://127.0.0.1:${port}`);
    const { stdout } = await run('bash', ['-c', command], { timeout: 10_000 });
    if (command.includes('"stream": true')) {
      // Server-sent events: chunks with text, the usage chunk, then [DONE] as the last event.
      const events = stdout.split('\n\n').filter((e) => e.startsWith('data: '));
      expect(events.at(-1)).toBe('data: [DONE]');
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
      expect(chunks.length).toBeGreaterThan(2);
      expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
      const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
      expect(text).toContain('Simulated');
      expect(chunks.at(-1).usage.total_tokens).toBeGreaterThan(0);
      return;
    }
    if (command.endsWith('/metrics')) {
      // Prometheus' text format, read from loopback without a token.
      expect(stdout).toContain('# TYPE http_server_request_duration_seconds histogram');
      expect(stdout).toContain('llm_router_providers_usable 3');
      return;
    }
    const body = JSON.parse(stdout);
    if (command.includes('wrong-key')) {
      expect(body.error.code).toBe('unauthorized');
    } else if (command.includes('/v1/responses')) {
      // A response object carries `error: null`, as OpenAI's does.
      expect(body).toMatchObject({ object: 'response', status: 'completed', error: null });
      expect(body.output[0].content[0].text).toContain('Simulated');
    } else {
      expect(body.error).toBeUndefined();
      expect(body.status ?? body.provider ?? body.object).toBeTruthy();
    }
  });

  it('runs the TypeScript example as written: the reply, the streamed answer, the embedding sizes and the Responses answers, one line each', async () => {
    const section = readme.slice(readme.indexOf('## Use it from the OpenAI SDK'));
    const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    expect(example).toContain("from 'openai'");
    // Beside a link to this project's node_modules, so `import OpenAI from 'openai'` resolves.
    const folder = mkdtempSync(join(tmpdir(), 'gateway-ts-example-'));
    try {
      symlinkSync(new URL('../node_modules', import.meta.url).pathname, join(folder, 'node_modules'));
      writeFileSync(join(folder, 'example.mts'), example.replaceAll('http://localhost:7860', `http://127.0.0.1:${port}`));
      const { stdout } = await run(process.execPath, [join(folder, 'example.mts')], { timeout: 30_000 });
      const lines = stdout.split('\n');
      expect(lines).toHaveLength(7);
      expect(lines[0]).toMatch(/^gemini\/\S+ Simulated answer from gemini .*You said: "Hello"$/);
      expect(lines[1]).toMatch(/^Simulated answer from gemini .*You said: "Tell me a story"$/);
      expect(lines[2]).toMatch(/^\[ \d+, \d+ \]$/);
      expect(lines[3]).toMatch(/^completed Simulated answer from gemini .*circuit breaker/);
      expect(lines[4]).toMatch(/^Simulated answer from gemini .*You said: "Tell me a story"$/);
      expect(lines[5]).toMatch(/^tokens: \d+$/);
      expect(lines[6]).toBe('');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('still simulates on loopback with .env copied from .env.example and a key filled in, and never prints that key', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'gateway-dotenv-'));
    const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    writeFileSync(join(folder, '.env'), example.replace(/^API_KEYS=$/m, 'API_KEYS=my-own-key-0123456789'));
    const ownPort = await freePort();
    const own = spawnNode([new URL('../src/dev.ts', import.meta.url).pathname], { PORT: String(ownPort), NO_PRETTY_LOGS: '1', LOG_LEVEL: 'warn' }, folder);
    try {
      await waitForOk(`http://127.0.0.1:${ownPort}/health`);
      const health = (await (await fetch(`http://127.0.0.1:${ownPort}/health`)).json()) as { simulated: boolean };
      expect(health.simulated).toBe(true);
      expect(own.output()).toContain(`secure-llm-router (development) on http://127.0.0.1:${ownPort}`);
      expect(own.output()).toContain('API key:   the one in API_KEYS');
      expect(own.output()).toContain("-H 'X-API-Key: <your key>'");
      expect(own.output()).not.toContain('my-own-key');
      const answer = await fetch(`http://127.0.0.1:${ownPort}/query`, {
        method: 'POST',
        headers: { 'x-api-key': 'my-own-key-0123456789', 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'Hello' }),
      });
      expect(answer.status).toBe(200);
    } finally {
      own.child.kill('SIGTERM');
      await own.exited;
      own.stop();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('drains and exits 0 on SIGTERM', async () => {
    const secondPort = await freePort();
    const second = spawnNode(['src/dev.ts'], { PORT: String(secondPort), NO_PRETTY_LOGS: '1', LOG_LEVEL: 'warn' });
    try {
      await waitForOk(`http://127.0.0.1:${secondPort}/health`);
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      second.stop();
    }
  });
});

