// `npm start` (src/server.ts) as a process: refuses bad configuration with one clear line,
// never simulates unless told to.
import { describe, expect, it } from 'vitest';
import { freePort, spawnNode, waitForOk } from './helpers/process.ts';

describe('npm start', () => {
  it('exits 1 with one line naming API_KEYS when it is missing', async () => {
    const server = spawnNode(['src/server.ts'], {});
    expect(await server.exited).toBe(1);
    const lines = server.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/API_KEYS is required/);
  });

  it('exits 1 naming a bad variable without echoing secrets', async () => {
    const server = spawnNode(['src/server.ts'], { API_KEYS: 'k', PORT: 'not-a-port', GROQ_API_KEY: 'gsk_secret_value' });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/PORT/);
    expect(server.output()).not.toContain('gsk_secret_value');
  });

  it('does not simulate unless told to, and says no provider is configured', async () => {
    const port = await freePort();
    const server = spawnNode(['src/server.ts'], { API_KEYS: 'k', PORT: String(port), HOST: '127.0.0.1' });
    try {
      await waitForOk(`http://127.0.0.1:${port}/health`);
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ status: 'unavailable', simulated: false });
      expect(server.output()).toContain('no provider is configured');
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });
});
