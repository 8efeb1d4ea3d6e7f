import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';

describe('a bug', () => {
  it('answers 500 with a generic message and sends the cause only to the log', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const app = await buildApp(loadConfig({ API_KEYS: 'k' }), { providers: [], logger: createLogger({ level: 'info', destination }) });
    // A route that fails the way a programming error would.
    app.get('/broken', async () => {
      throw new TypeError('secret internal detail at /srv/app.ts:12');
    });
    const response = await app.inject({ method: 'GET', url: '/broken' });
    await app.close();

    expect(response.statusCode).toBe(500);
    const body = response.json();
    expect(body).toEqual({ error: { code: 'internal_error', message: 'Internal server error.', request_id: response.headers['x-request-id'] } });
    expect(response.body).not.toContain('secret internal detail');
    const logged = lines.join('');
    expect(logged).toContain('secret internal detail');
    expect(logged).toContain('"level":50');
  });
});
