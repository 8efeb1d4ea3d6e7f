// `npm run dev` as a person runs it: a mistake it can see stops it with one line and a non-zero exit
// (never "Waiting for file changes"), and its banner says what is simulated and who answers first.
// (An older Node, the third mistake, is in node-version.test.ts.)
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, spawnNode, spawnProcess, waitForOk } from './helpers/process.ts';

const npmRunDev = (env: Record<string, string>) => spawnProcess('npm', ['run', 'dev'], { npm_config_update_notifier: 'false', NO_PRETTY_LOGS: '1', ...env });

describe('npm run dev', () => {
  it('exits 1 on a bad setting, naming it, instead of waiting for file changes', async () => {
    const dev = npmRunDev({ PORT: '0', SIMULATED_FAULTS: 'gemini=bogus' });
    try {
      expect(await dev.exited).toBe(1);
      expect(dev.output()).toContain(
        'Invalid configuration: SIMULATED_FAULTS has an unknown fault in "gemini=bogus" (use ok, down, error, slow, hang, reset, ratelimited, dailylimit, unauthorized, malformed, blocked, empty, trickle, malformedevent, contentpolicy, stall)\n',
      );
      expect(dev.output()).not.toContain('Waiting for file changes');
    } finally {
      dev.stop();
    }
  });

  it('exits 1 when its port is in use, saying what to do, instead of waiting for file changes', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as { port: number };
    const dev = npmRunDev({ PORT: String(port) });
    try {
      expect(await dev.exited).toBe(1);
      expect(dev.output()).toContain(`Cannot listen on 127.0.0.1 port ${port} (EADDRINUSE): another process is using that port: stop it, or choose another PORT\n`);
      expect(dev.output()).not.toContain('Waiting for file changes');
      expect(dev.output()).not.toContain('secure-llm-router (development)');
    } finally {
      dev.stop();
      taken.close();
    }
  });

  it('starts watching when nothing is wrong, its banner naming the faults and the provider that answers first', async () => {
    const port = await freePort();
    const dev = npmRunDev({ PORT: String(port), LOG_LEVEL: 'warn', SIMULATED_FAULTS: 'gemini=down' });
    try {
      await waitForOk(`http://127.0.0.1:${port}/health`);
      expect(dev.output()).toContain('  faults:    gemini=down (SIMULATED_FAULTS)\n');
      expect(dev.output()).toContain('  answers:   groq first (PROVIDER_ORDER: gemini, groq, openrouter)\n');
      const answer = await fetch(`http://127.0.0.1:${port}/query`, {
        method: 'POST',
        headers: { 'x-api-key': 'dev-key-change-me', 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'Hello' }),
      });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-llm-provider')).toBe('groq');
    } finally {
      dev.stop();
    }
  });

  it('says when no fault is set, and when every provider is set to fail', async () => {
    for (const [faults, line] of [
      ['', '  faults:    none (SIMULATED_FAULTS=gemini=down npm run dev shows the fallback)\n  answers:   gemini first (PROVIDER_ORDER: gemini, groq, openrouter)\n'],
      [
        'gemini=hang, groq=error ,openrouter=ratelimited',
        '  faults:    gemini=hang, groq=error, openrouter=ratelimited (SIMULATED_FAULTS)\n' +
          '  answers:   none: every provider in PROVIDER_ORDER (gemini, groq, openrouter) is set to fail, so /query answers 503\n',
      ],
    ] as const) {
      const port = await freePort();
      const dev = spawnNode(['src/dev.ts'], { PORT: String(port), NO_PRETTY_LOGS: '1', LOG_LEVEL: 'warn', ...(faults ? { SIMULATED_FAULTS: faults } : {}) });
      try {
        await waitForOk(`http://127.0.0.1:${port}/health`);
        await expect.poll(() => dev.output()).toContain(line);
      } finally {
        dev.child.kill('SIGTERM');
        expect(await dev.exited).toBe(0);
      }
    }
  });
});
