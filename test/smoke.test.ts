// npm run smoke, run as a user runs it (a child process reading only its environment), with each
// provider's variables pointing at its fake: a table row per call, the mapped error of a provider
// that fails, exit code 1 then and 0 when all answer, never a key in the output; and, with no
// provider configured, a message saying what to set and exit code 0.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeGemini } from '../src/simulator/fake-gemini.ts';
import { startFakeGroq } from '../src/simulator/fake-groq.ts';
import { startFakeOpenRouter } from '../src/simulator/fake-openrouter.ts';
import type { FakeProviderServer } from '../src/simulator/fake-server.ts';

const SCRIPT = fileURLToPath(new URL('../scripts/smoke.ts', import.meta.url));
const KEYS = { gemini: 'AIzaSmokeGeminiKey0000001', groq: 'gsk_smokeGroqKey000000002', openrouter: 'sk-or-v1-smokeRouterKey03' };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let cwd: string;

/** Runs the smoke script with only these variables (and PATH), in a directory with no .env. */
function smoke(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => void (stdout += data.toString()));
    child.stderr.on('data', (data: Buffer) => void (stderr += data.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The table's rows (after its header and rule), as their columns. */
function rows(stdout: string): string[][] {
  const lines = stdout.split('\n');
  const rule = lines.findIndex((line) => /^-+\s/.test(line));
  expect(lines[rule - 1]).toMatch(/^provider\s+model\s+call\s+result\s+first token ms\s+total ms\s+tokens\s+finish$/);
  const end = lines.indexOf('', rule);
  return lines.slice(rule + 1, end).map((line) => line.split(/\s{2,}/));
}

describe('npm run smoke', () => {
  let gemini: FakeProviderServer;
  let groq: FakeProviderServer;
  let openrouter: FakeProviderServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'smoke-'));
    gemini = await startFakeGemini({ apiKey: KEYS.gemini });
    groq = await startFakeGroq({ apiKey: KEYS.groq });
    openrouter = await startFakeOpenRouter({ apiKey: KEYS.openrouter });
    env = {
      GEMINI_API_KEY: KEYS.gemini,
      GEMINI_BASE_URL: gemini.url,
      GROQ_API_KEY: KEYS.groq,
      GROQ_BASE_URL: groq.url,
      OPENROUTER_API_KEY: KEYS.openrouter,
      OPENROUTER_BASE_URL: `${openrouter.url}/api/v1`,
    };
  });
  afterAll(async () => {
    await Promise.all([gemini.close(), groq.close(), openrouter.close()]);
    await rm(cwd, { recursive: true, force: true });
  });
  beforeEach(() => {
    for (const fake of [gemini, groq, openrouter]) fake.reset();
  });

  it('prints a row per call, the mapped error of the provider that fails, exits 1, and never a key', async () => {
    openrouter.setDefault({ kind: 'error', status: 503 });
    const run = await smoke(env);
    expect(run.code).toBe(1);
    const table = rows(run.stdout);
    expect(table.map((row) => [row[0], row[2], row[3]])).toEqual([
      ['gemini', 'whole', 'ok'],
      ['gemini', 'stream', 'ok'],
      ['groq', 'whole', 'ok'],
      ['groq', 'stream', 'ok'],
      ['openrouter', 'whole', 'unavailable 503'],
      ['openrouter', 'stream', 'unavailable 503'],
    ]);
    const [geminiWhole, geminiStream, groqWhole] = table;
    expect(geminiWhole?.[1]).toBe('gemini-flash-lite-latest');
    expect(groqWhole?.[1]).toBe('openai/gpt-oss-20b');
    // Times are numbers (their values are the machine's business); a whole call has no first token.
    expect(geminiWhole?.[4]).toBe('-');
    expect(geminiStream?.[4]).toMatch(/^\d+$/);
    expect(geminiStream?.[5]).toMatch(/^\d+$/);
    expect(groqWhole?.[6]).toMatch(/^\d+ in, \d+ out \(\d+ reasoning\)$/);
    expect(groqWhole?.[7]).toBe('stop');
    expect(table[4]?.slice(4)).toEqual(['-', expect.stringMatching(/^\d+$/), '-', '-']);
    expect(run.stdout).toContain('openrouter (whole): openrouter answered HTTP 503');
    expect(run.stdout).toContain('2 of 6 calls failed.');
    // Each adapter really called its provider: a whole call and a stream each.
    expect(gemini.requests.map((r) => r.path)).toEqual([
      '/v1beta/models/gemini-flash-lite-latest:generateContent',
      '/v1beta/models/gemini-flash-lite-latest:streamGenerateContent',
    ]);
    expect(groq.requests).toHaveLength(2);
    expect(openrouter.requests).toHaveLength(2);
    for (const key of Object.values(KEYS)) expect(`${run.stdout}${run.stderr}`).not.toContain(key);
  });

  it('exits 0 when every configured provider answers, and leaves out the ones without a key', async () => {
    const { OPENROUTER_API_KEY: _key, ...withoutRouter } = env;
    const run = await smoke(withoutRouter);
    expect(run.code).toBe(0);
    expect(rows(run.stdout).map((row) => `${row[0]} ${row[2]} ${row[3]}`)).toEqual(['gemini whole ok', 'gemini stream ok', 'groq whole ok', 'groq stream ok']);
    expect(run.stdout).toContain('Every configured provider answered (2).');
    expect(openrouter.requests).toHaveLength(0);
  });

  it('shows a rejected key as the configuration problem it is', async () => {
    const run = await smoke({ GROQ_API_KEY: 'gsk_wrongSmokeKey00000099', GROQ_BASE_URL: groq.url });
    expect(run.code).toBe(1);
    expect(rows(run.stdout).map((row) => row[3])).toEqual(['misconfigured 401', 'misconfigured 401']);
    expect(run.stdout).not.toContain('gsk_wrongSmokeKey00000099');
  });

  it('without any provider configured, says which variables to set and exits 0', async () => {
    const run = await smoke({});
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('No provider is configured');
    expect(run.stdout).toContain('GEMINI_API_KEY, GROQ_API_KEY, OPENROUTER_API_KEY');
    expect(run.stdout).toContain('.env');
    expect(run.stderr).toBe('');
  });
});
