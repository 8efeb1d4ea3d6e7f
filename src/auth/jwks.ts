// The identity provider's signing keys (a JSON Web Key Set at JWT_JWKS_URL), kept in memory. A
// request never waits for a fetch except when its token names a key the set does not have yet,
// and then at most JWKS_TIMEOUT_MS, at most once per JWKS_COOLDOWN_MS for everyone (concurrent
// requests share the one fetch). A set older than JWKS_MAX_AGE_MS is refreshed in the background
// while the one in hand keeps serving, so an endpoint that is down keeps the cached keys working.
//
// jose's createRemoteJWKSet is not used as it stands: once its cache is older than cacheMaxAge it
// awaits a refetch before verifying anything, so an outage fails the keys it already has, and its
// cooldown counts from the last successful fetch, so while the endpoint is down every token with
// an unknown kid waits for another fetch. Keys are still selected and imported by jose
// (createLocalJWKSet); only the fetching and its timing are ours.
import { createLocalJWKSet, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import { JWKSNoMatchingKey } from 'jose/errors';
import type { Clock } from '../cascade/clock.ts';

/** The longest one fetch of the key set may take. */
export const JWKS_TIMEOUT_MS = 2_000;
/** No fetch starts within this long of the previous one, whatever its outcome. */
export const JWKS_COOLDOWN_MS = 30_000;
/** Past this age the set is refreshed in the background (jose's default cacheMaxAge). */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
/** A key set is a few kilobytes; anything far larger is not one. */
const JWKS_MAX_BYTES = 256 * 1024;

/** Key types that sign asymmetrically; a symmetric ("oct") key in the set is never used. */
const ASYMMETRIC = new Set(['RSA', 'EC', 'OKP']);

export class JwksUnavailableError extends Error {
  override name = 'JwksUnavailableError';
}

export interface JwksLog {
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

export class JwksKeys {
  readonly #url: URL;
  readonly #clock: Clock;
  readonly #log: JwksLog;
  #keys: JWTVerifyGetKey | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | undefined;
  /** Fetches started, for the tests and the log. */
  fetches = 0;

  constructor(url: URL, clock: Clock, log: JwksLog) {
    this.#url = url;
    this.#clock = clock;
    this.#log = log;
  }

  /** For jose's jwtVerify: the key the token's header names, fetching the set only as above. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (this.#keys === undefined) await this.refresh();
    else if (this.#clock.now() - this.#fetchedAt > JWKS_MAX_AGE_MS) void this.refresh().catch(() => undefined);
    const keys = this.#keys;
    if (keys === undefined) throw new JwksUnavailableError('the key set could not be fetched');
    try {
      return await keys(header, token);
    } catch (error) {
      // A key the set may have gained since (rotation): one fetch (or the one under way), then
      // the answer stands.
      if (!(error instanceof JWKSNoMatchingKey) || (this.#pending === undefined && this.#coolingDown())) throw error;
      await this.refresh().catch(() => undefined);
      const refreshed = this.#keys;
      if (refreshed === keys || refreshed === undefined) throw error;
      return refreshed(header, token);
    }
  };

  /** Fetches the set unless a fetch is under way (then waits for it) or one started too recently. */
  refresh(): Promise<void> {
    if (this.#pending) return this.#pending;
    if (this.#coolingDown()) return Promise.reject(new JwksUnavailableError('the key set was fetched moments ago'));
    this.#attemptedAt = this.#clock.now();
    this.fetches += 1;
    const pending = this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    this.#pending = pending;
    return pending;
  }

  #coolingDown(): boolean {
    return this.#clock.now() - this.#attemptedAt < JWKS_COOLDOWN_MS;
  }

  async #fetch(): Promise<void> {
    try {
      const set = await fetchKeySet(this.#url);
      const keys = set.keys.filter((key: JWK) => typeof key.kty === 'string' && ASYMMETRIC.has(key.kty));
      this.#keys = createLocalJWKSet({ keys });
      this.#fetchedAt = this.#clock.now();
      this.#log.info({ keys: keys.length }, 'JWKS fetched');
    } catch (error) {
      // The URL is the operator's own and holds no secret; the cause says what went wrong.
      const reason = error instanceof Error ? error.message : String(error);
      this.#log.warn({ reason, cached_keys: this.#keys !== undefined }, 'JWKS fetch failed; cached keys, if any, keep working');
      throw new JwksUnavailableError(reason);
    }
  }
}

/** GET the key set: 200 with a JSON object holding `keys`, within the time and size limits. */
async function fetchKeySet(url: URL): Promise<JSONWebKeySet> {
  const response = await fetch(url, {
    headers: { accept: 'application/json, application/jwk-set+json' },
    // A redirect could lead anywhere; the configured URL is the one trusted.
    redirect: 'manual',
    signal: AbortSignal.timeout(JWKS_TIMEOUT_MS),
  });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`the JWKS endpoint answered ${response.status}`);
  }
  const text = await boundedText(response, JWKS_MAX_BYTES);
  const set: unknown = JSON.parse(text);
  if (typeof set !== 'object' || set === null || !Array.isArray((set as JSONWebKeySet).keys)) throw new Error('the JWKS endpoint did not answer a key set');
  return set as JSONWebKeySet;
}

async function boundedText(response: Response, limit: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > limit) {
    await response.body?.cancel();
    throw new Error(`the key set is larger than ${limit} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.byteLength;
    if (size > limit) throw new Error(`the key set is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
