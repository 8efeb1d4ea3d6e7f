import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';

/** A logger at info whose lines come back parsed. */
function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  const entries = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, entries };
}

describe('the logger', () => {
  it('redacts the client key and authorization headers of a logged request', () => {
    const { logger, lines, entries } = capture();
    logger.info({ req: { headers: { 'x-api-key': 'client-secret-1', authorization: 'Bearer client-secret-2', cookie: 'sid=client-secret-3', host: 'gw' } } }, 'in');
    logger.info({ headers: { 'x-goog-api-key': 'provider-secret-1', authorization: 'Bearer provider-secret-2' } }, 'out');

    expect(lines.join('')).not.toMatch(/secret/);
    const [incoming, outgoing] = entries();
    expect(incoming?.req).toEqual({ headers: { 'x-api-key': '[redacted]', authorization: '[redacted]', cookie: '[redacted]', host: 'gw' } });
    expect(outgoing?.headers).toEqual({ 'x-goog-api-key': '[redacted]', authorization: '[redacted]' });
  });

  it('redacts key fields at the top level and in any object one level down (frozen or not), leaving the logged objects as they were', () => {
    const { logger, lines, entries } = capture();
    const provider = Object.freeze({ name: 'groq', apiKey: 'gsk-secret-1', api_key: 'gsk-secret-2', model: 'llama' });
    const config = { apiKeys: ['client-secret-1'], port: 7860 };
    logger.info({ provider, config, apiKey: 'top-secret-1', api_key: 'top-secret-2', status: 200, method: 'POST' }, 'line');

    expect(lines.join('')).not.toMatch(/secret/);
    expect(entries()[0]).toMatchObject({
      provider: { name: 'groq', apiKey: '[redacted]', api_key: '[redacted]', model: 'llama' },
      config: { apiKeys: '[redacted]', port: 7860 },
      apiKey: '[redacted]',
      api_key: '[redacted]',
      status: 200,
      method: 'POST',
      msg: 'line',
    });
    expect(provider.apiKey).toBe('gsk-secret-1');
    expect(config.apiKeys).toEqual(['client-secret-1']);
  });

  it('redacts a key carried by an error and keeps its type, message and stack', () => {
    const { logger, lines, entries } = capture();
    const error = Object.assign(new TypeError('upstream refused'), { apiKey: 'sk-secret-1', status: 401 });
    logger.child({ request_id: 'r-1' }).error({ err: error, provider: 'groq' }, 'failed');

    expect(lines.join('')).not.toMatch(/secret/);
    const entry = entries()[0];
    expect(entry).toMatchObject({ request_id: 'r-1', provider: 'groq', msg: 'failed' });
    expect(entry?.err).toMatchObject({ type: 'TypeError', message: 'upstream refused', apiKey: '[redacted]', status: 401 });
    expect((entry?.err as { stack: string }).stack).toMatch(/^TypeError: upstream refused\n\s+at /);
    expect(error.apiKey).toBe('sk-secret-1');
  });

  it('writes a line without key fields as it was given', () => {
    const { logger, entries } = capture();
    const attempts = [{ provider: 'gemini', outcome: 'ok', latency_ms: 12 }];
    logger.info({ method: 'POST', url: '/query', status: 200, ms: 3, client: 'key-1', attempts }, 'request completed');

    expect(entries()[0]).toMatchObject({ method: 'POST', url: '/query', status: 200, ms: 3, client: 'key-1', attempts, msg: 'request completed' });
  });
});
