// A web page on another origin calling the gateway, in a real browser: Chromium enforces CORS
// itself, so this is the check that a page on an origin in CORS_ORIGINS really can call the
// gateway with a key (preflight included) and read a streamed answer, and that a page on any
// other origin cannot read anything.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.ts';
import { sseData } from '../helpers/contract.ts';
import { freePort, spawnNode, waitForOk, type Spawned } from '../helpers/process.ts';

const DEV_KEY = 'dev-key-change-me';

/** A site that serves one empty page, on its own loopback port: its own origin. */
async function startSite(): Promise<{ origin: string; server: Server }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>app</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

interface PageCall {
  ok: boolean;
  status?: number;
  provider?: string | null;
  requestId?: string | null;
  text?: string;
  error?: string;
}

describe('a web page calling the gateway from Chromium', () => {
  let dev: Spawned;
  let gateway: string;
  let browser: Browser;
  let allowed: Awaited<ReturnType<typeof startSite>>;
  let other: Awaited<ReturnType<typeof startSite>>;

  beforeAll(async () => {
    [allowed, other] = await Promise.all([startSite(), startSite()]);
    const port = await freePort();
    gateway = `http://127.0.0.1:${port}`;
    dev = spawnNode(['src/dev.ts'], { PORT: String(port), NO_PRETTY_LOGS: '1', LOG_LEVEL: 'warn', CORS_ORIGINS: allowed.origin });
    await waitForOk(`${gateway}/health`);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    dev?.child.kill('SIGTERM');
    await dev?.exited;
    allowed?.server.close();
    other?.server.close();
  });

  /** Opens the site's page and, from it, streams a chat completion from the gateway as an app would. */
  async function callFrom(siteOrigin: string): Promise<PageCall> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${siteOrigin}/`);
    const call = await page.evaluate(
      async ({ url, key }) => {
        try {
          const response = await fetch(url, {
            method: 'POST',
            // Not a simple request (JSON, a key, an SDK's own header): the browser sends a preflight.
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-stainless-lang': 'js' },
            body: JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'Hello from a page' }] }),
          });
          return {
            ok: true,
            status: response.status,
            provider: response.headers.get('x-llm-provider'),
            requestId: response.headers.get('x-request-id'),
            text: await response.text(),
          };
        } catch (error) {
          return { ok: false, error: String(error) };
        }
      },
      { url: `${gateway}/v1/chat/completions`, key: DEV_KEY },
    );
    await context.close();
    return call;
  }

  it('lets a page on an allowed origin stream an answer and read its headers', async () => {
    const call = await callFrom(allowed.origin);
    expect(call.error).toBeUndefined();
    expect(call.status).toBe(200);
    expect(call.provider).toBe('gemini');
    expect(call.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const events = sseData(call.text ?? '');
    expect(events.at(-1)).toBe('[DONE]');
    const answer = events
      .slice(0, -1)
      .map((event) => (JSON.parse(event) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '')
      .join('');
    expect(answer).toContain('Hello from a page');
  });

  it('keeps a page on any other origin from reading anything', async () => {
    const call = await callFrom(other.origin);
    expect(call.ok).toBe(false);
    expect(call.error).toMatch(/TypeError: Failed to fetch/);
  });
});
