// A person's first visit, in a real browser: Debian's Chromium, driven by playwright-core, opens
// /docs on the gateway as `npm run dev` runs it (simulated providers), authorizes with the
// development key and runs POST /query with "Try it out". Runs with `npm run test:browser`
// (needs `apt-get install chromium`); the screenshot it takes is the one the README shows.
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.ts';
import { freePort, spawnNode, waitForOk, type Spawned } from '../helpers/process.ts';

const DEV_KEY = 'dev-key-change-me';
const PROMPT = 'Say hello from the browser test';
const SCREENSHOT = fileURLToPath(new URL('../../docs/images/docs-query.png', import.meta.url));

describe('Swagger UI at /docs in Chromium', () => {
  let dev: Spawned;
  let origin: string;
  let browser: Browser;
  /** Requests the page tried to send anywhere but the gateway (blocked). */
  const blocked: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    dev = spawnNode(['src/dev.ts'], { PORT: String(port), NO_PRETTY_LOGS: '1', LOG_LEVEL: 'warn' });
    await waitForOk(`${origin}/health`);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    dev?.child.kill('SIGTERM');
    await dev?.exited;
  });

  /** A fresh page that may only talk to the gateway, and that records its own errors. */
  async function openDocs(): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    // Console errors too, except the browser's own line for a response with an error status
    // (the 401 below is expected; its body is checked there).
    page.on('console', (message) => {
      if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of 401/.test(message.text())) {
        errors.push(message.text());
      }
    });
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`)) return route.continue();
      blocked.push(url);
      return route.abort();
    });
    const response = await page.goto(`${origin}/docs`);
    expect(response?.status()).toBe(200);
    await page.locator('.opblock-summary-path', { hasText: /^\/query$/ }).first().waitFor();
    expect(await page.title()).toBe('Swagger UI');
    expect(await page.locator('.info .title').first().innerText()).toMatch(/^secure-llm-router/);
    return { page, errors };
  }

  /** Opens POST /query, puts a body in, presses Execute and returns the gateway's answer. */
  async function runQuery(page: Page) {
    const operation = page.locator('.opblock-post', { has: page.locator('.opblock-summary-path', { hasText: /^\/query$/ }) }).first();
    await operation.locator('.opblock-summary').click();
    const tryItOut = operation.locator('button.try-out__btn', { hasText: 'Try it out' });
    if (await tryItOut.isVisible()) await tryItOut.click();
    await operation.locator('textarea.body-param__text').fill(JSON.stringify({ prompt: PROMPT, max_tokens: 64 }, null, 2));
    const [answer] = await Promise.all([
      page.waitForResponse((response) => response.url() === `${origin}/query` && response.request().method() === 'POST'),
      operation.locator('button.execute').click(),
    ]);
    await operation.locator('.live-responses-table tr.response .response-col_status').first().waitFor();
    return { operation, answer };
  }

  it('authorizes with an API key and runs POST /query with "Try it out"', async () => {
    const { page, errors } = await openDocs();
    await page.locator('.auth-wrapper button.authorize').click();
    const apiKeyForm = page.locator('.modal-ux .auth-container', { hasText: 'X-API-Key' });
    await apiKeyForm.locator('input').fill(DEV_KEY);
    await apiKeyForm.locator('button.authorize').click();
    await apiKeyForm.locator('h6', { hasText: 'Authorized' }).waitFor();
    await apiKeyForm.locator('button.btn-done').click();

    const { operation, answer } = await runQuery(page);
    expect(answer.status()).toBe(200);
    expect(answer.request().headers()['x-api-key']).toBe(DEV_KEY);
    expect(answer.headers()['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await answer.json()) as { response: string; provider: string };
    expect(body.provider).toBe('gemini');
    expect(body.response).toContain(PROMPT);

    // What the person sees: the status and the answer, rendered by Swagger UI.
    await expect.poll(() => operation.locator('.live-responses-table tr.response .response-col_status').first().innerText()).toMatch(/^200\b/);
    const shown = await operation.locator('.live-responses-table tr.response .response-col_description').first().innerText();
    expect(shown).toContain('"provider": "gemini"');
    expect(shown).toContain('Simulated answer');

    // From the top of the page down to the live response: what the person just did and saw.
    const live = await operation.locator('.live-responses-table').first().boundingBox();
    expect(live).not.toBeNull();
    // boundingBox is relative to the viewport; the clip is in page coordinates.
    const scrollY = await page.evaluate<number>('window.scrollY');
    const bottom = Math.ceil(scrollY + (live?.y ?? 0) + (live?.height ?? 0)) + 16;
    await page.screenshot({ path: SCREENSHOT, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: bottom } });
    expect(errors).toEqual([]);
  });

  it('shows the 401 error body when no key was given', async () => {
    const { page, errors } = await openDocs();
    const { operation, answer } = await runQuery(page);
    expect(answer.status()).toBe(401);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    await expect.poll(() => operation.locator('.live-responses-table tr.response .response-col_status').first().innerText()).toContain('401');
    expect(errors).toEqual([]);
  });

  it('never reached for anything outside the gateway', () => {
    expect(blocked).toEqual([]);
  });
});
