// What providers say about their limits in answer headers, as quota corrections.
//
// Groq sends on every answer (console.groq.com/docs/rate-limits): x-ratelimit-limit-requests and
// -remaining-requests (always requests per day), x-ratelimit-reset-requests (a duration such as
// "2m59.56s"), and the same three for tokens (always tokens per minute).
// OpenRouter sends X-RateLimit-Limit, -Remaining and -Reset (epoch milliseconds) on a 429; the
// reset tells the window: its free-model limits are per minute (20) and per UTC day (50 or 1000).
import type { IncomingHttpHeaders } from 'node:http';
import type { WindowCorrection } from '../state/quota-store.ts';

const count = (value: string | string[] | undefined): number | undefined => {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value.trim())) return undefined;
  return Number(value.trim());
};

const UNITS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Groq's durations: "7.66s", "2m59.56s", "1h2m3s", "250ms". */
export function groqDurationMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(value.trim())) return undefined;
  let total = 0;
  for (const [, amount, unit] of value.trim().matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) total += Number(amount) * (UNITS[unit ?? 's'] ?? 0);
  return Math.round(total);
}

/** Corrections from an answer's headers; empty when it carries none (the usual case, cheaply). */
export function rateLimitCorrections(headers: IncomingHttpHeaders, now: number): WindowCorrection[] {
  const corrections: WindowCorrection[] = [];
  const requestLimit = headers['x-ratelimit-limit-requests'];
  if (requestLimit !== undefined) {
    const requestsReset = groqDurationMs(headers['x-ratelimit-reset-requests']);
    const tokensReset = groqDurationMs(headers['x-ratelimit-reset-tokens']);
    corrections.push(
      { window: 'rpd', limit: count(requestLimit), remaining: count(headers['x-ratelimit-remaining-requests']), resetAt: requestsReset === undefined ? undefined : now + requestsReset },
      { window: 'tpm', limit: count(headers['x-ratelimit-limit-tokens']), remaining: count(headers['x-ratelimit-remaining-tokens']), resetAt: tokensReset === undefined ? undefined : now + tokensReset },
    );
    return corrections;
  }
  const limit = count(headers['x-ratelimit-limit']);
  if (limit !== undefined) {
    const reset = count(headers['x-ratelimit-reset']);
    const resetAt = reset !== undefined && reset > now ? reset : undefined;
    const window = resetAt !== undefined && resetAt - now > 60_000 ? 'rpd' : 'rpm';
    corrections.push({ window, limit, remaining: count(headers['x-ratelimit-remaining']), resetAt });
  }
  return corrections;
}
