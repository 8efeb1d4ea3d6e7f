// Gemini's failures as ProviderErrors. An HTTP error's body (google.rpc.Status) is read only for
// the two details that change what we do: a wrong key (sent as 400, not 401) and the wait of a
// 429 (RetryInfo; Gemini sends no Retry-After). Its message can quote the request, so it never
// becomes ours; the canonical status name ("UNAVAILABLE") does, since it is one word from a list.
import { ProviderError, kindForStatus } from '../provider-error.ts';
import type { QuotaWindow } from '../../state/quota-store.ts';

const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo';
const RETRY_INFO = 'type.googleapis.com/google.rpc.RetryInfo';

interface StatusDetail {
  '@type'?: unknown;
  reason?: unknown;
  retryDelay?: unknown;
}

/** An HTTP error answer; `body` is its text when it could be read (it may be anything). */
export function fromHttpStatus(status: number, body: string | undefined): ProviderError {
  const error = parseStatus(body);
  const details: StatusDetail[] = Array.isArray(error?.details) ? error.details.filter(isObject) : [];
  // Gemini answers a wrong key with 400, which would otherwise read as "this request was refused".
  if (status === 400 && details.some((d) => d['@type'] === ERROR_INFO && d.reason === 'API_KEY_INVALID')) {
    return new ProviderError('gemini', 'misconfigured', 'Gemini rejected the API key', { status });
  }
  // FAILED_PRECONDITION (a location the API does not serve, billing) is about the account, not the request.
  const kind = error?.status === 'FAILED_PRECONDITION' ? 'misconfigured' : kindForStatus(status);
  const name = typeof error?.status === 'string' && /^[A-Z_]{1,40}$/.test(error.status) ? ` (${error.status})` : '';
  const message = `Gemini answered HTTP ${status}${name}`;
  if (kind !== 'rate_limited') return new ProviderError('gemini', kind, message, { status });
  // A daily quota is spent until it resets; its RetryInfo, when there is one, only says when to try the minute again.
  const daily = details.some((d) => d['@type'] === QUOTA_FAILURE && violatesDailyQuota(d));
  const quota = quotaViolated(details);
  return new ProviderError('gemini', kind, daily ? `${message}: daily quota exhausted` : message, {
    status,
    retryAfterMs: daily ? untilMidnightPacific() : retryDelayMs(details),
    ...(quota === undefined ? {} : { quota }),
  });
}

/**
 * Which window a QuotaFailure names, from its quotaId ("GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
 * "GenerateContentInputTokensPerModelPerDay-FreeTier"), and its quotaValue, the limit. A day wins over a minute.
 */
function quotaViolated(details: StatusDetail[]): { window: QuotaWindow; limit?: number } | undefined {
  let found: { window: QuotaWindow; limit?: number } | undefined;
  for (const detail of details) {
    if (detail['@type'] !== QUOTA_FAILURE) continue;
    const violations = (detail as { violations?: unknown }).violations;
    for (const v of Array.isArray(violations) ? violations : []) {
      if (!isObject(v) || typeof v.quotaId !== 'string') continue;
      const per = /PerDay/.test(v.quotaId) ? 'd' : /PerMinute/.test(v.quotaId) ? 'm' : undefined;
      if (per === undefined || (found !== undefined && found.window.endsWith('d'))) continue;
      const window = `${/Token/i.test(v.quotaId) ? 't' : 'r'}p${per}` as QuotaWindow;
      const limit = Number(v.quotaValue);
      found = { window, ...(Number.isSafeInteger(limit) && limit > 0 ? { limit } : {}) };
    }
  }
  return found;
}

const QUOTA_FAILURE = 'type.googleapis.com/google.rpc.QuotaFailure';

/** A QuotaFailure naming a per-day quota (GenerateRequestsPerDayPerProjectPerModel-FreeTier, ...). */
function violatesDailyQuota(detail: StatusDetail): boolean {
  const violations = (detail as { violations?: unknown }).violations;
  return Array.isArray(violations) && violations.some((v) => isObject(v) && typeof v.quotaId === 'string' && /PerDay/.test(v.quotaId));
}

/** Gemini's daily quotas reset at midnight Pacific time. */
export function untilMidnightPacific(now = Date.now()): number {
  // The Pacific wall-clock time now, read as if it were UTC; the next midnight of that clock.
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: 'America/Los_Angeles', hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
      .formatToParts(now)
      .map((p) => [p.type, Number(p.value)]),
  ) as Record<string, number>;
  const wall = Date.UTC(parts.year ?? 0, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
  const nextMidnight = Date.UTC(parts.year ?? 0, (parts.month ?? 1) - 1, (parts.day ?? 1) + 1);
  return Math.max(1000, nextMidnight - wall - (now % 1000));
}

/** Reads RetryInfo.retryDelay, a protobuf Duration in JSON form such as "46s" or "1.5s". */
export function retryDelayMs(details: StatusDetail[]): number | undefined {
  const delay = details.find((d) => d['@type'] === RETRY_INFO)?.retryDelay;
  if (typeof delay !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)s$/.exec(delay.trim());
  return match?.[1] === undefined ? undefined : Math.round(Number(match[1]) * 1000);
}

function parseStatus(body: string | undefined): { status?: unknown; details?: unknown } | undefined {
  if (body === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    const error = isObject(parsed) ? (parsed as { error?: unknown }).error : undefined;
    return isObject(error) ? error : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
