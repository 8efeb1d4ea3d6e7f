// Signed-in users' bearer tokens: a JWT verified by jose against the identity provider's key set
// (jwks.ts), with the issuer and audience required to match, exp required, exp and nbf read with
// JWT_CLOCK_SKEW_S of leeway, and only asymmetric algorithms. What comes back is who the caller is
// (its client id, from `sub`) or why it was refused: the reason goes to the log, never to the
// caller, who gets the same 401 for every failure.
import { hash } from 'node:crypto';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../cascade/clock.ts';
import { JwksKeys, JwksUnavailableError, type JwksLog } from './jwks.ts';

/** RSA, ECDSA P-256 and Ed25519 signatures; never none, never HMAC (algorithm confusion). */
export const JWT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];
/** Larger tokens are refused unread (identity providers' tokens are 1–2 KB). */
export const JWT_MAX_BYTES = 8 * 1024;
/** The longest `sub` kept as it is in a client id; a longer or unusual one is hashed. */
const SUBJECT_MAX = 64;
const SAFE_SUBJECT = /^[A-Za-z0-9._:@|+=-]+$/;
/** A tier name as the keys file will spell it. */
const SAFE_TIER = /^[A-Za-z0-9._-]{1,32}$/;
/** Three base64url parts: the shape of a signed JWT, so other bearer values never reach jose. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface JwtSettings {
  jwksUrl: URL;
  issuer: string;
  audience: string[];
  /** The claim whose value names the caller's tier. */
  tierClaim?: string | undefined;
  clockSkewS: number;
}

/** Why a token was refused, as the log shows it. */
export type JwtFailure =
  | 'too_large'
  | 'malformed'
  | 'algorithm_not_allowed'
  | 'unknown_key'
  | 'jwks_unavailable'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'missing_claim'
  | 'invalid_claim';

export type JwtResult = { ok: true; clientId: string; tier: string | undefined } | { ok: false; reason: JwtFailure };


/**
 * The client id a subject stands for: "jwt:" and the subject when it is short and plain, as
 * identity providers' are ("auth0|66f…", "user_2ab…", a UUID); otherwise "jwt:#" and a digest of
 * it, so no two subjects share one (they would share a rate limit and a cache scope) and nothing
 * a token says reaches the log unfiltered.
 */
export function clientIdOf(subject: string): string {
  if (subject.length <= SUBJECT_MAX && SAFE_SUBJECT.test(subject)) return `jwt:${subject}`;
  return `jwt:#${hash('sha256', subject, 'base64url').slice(0, 32)}`;
}

export class JwtVerifier {
  readonly keys: JwksKeys;
  readonly #settings: JwtSettings;
  readonly #clock: Clock;

  constructor(settings: JwtSettings, clock: Clock, log: JwksLog) {
    this.#settings = settings;
    this.#clock = clock;
    this.keys = new JwksKeys(settings.jwksUrl, clock, log);
  }

  /** Whether a bearer value is shaped like a JWT at all (an API key usually is not). */
  accepts(value: string): boolean {
    return value.length <= JWT_MAX_BYTES * 2 && COMPACT_JWS.test(value);
  }

  async verify(token: string): Promise<JwtResult> {
    if (token.length > JWT_MAX_BYTES) return { ok: false, reason: 'too_large' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys.getKey, {
        algorithms: JWT_ALGORITHMS,
        issuer: this.#settings.issuer,
        audience: this.#settings.audience,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: this.#settings.clockSkewS,
        currentDate: new Date(this.#clock.now()),
      }));
    } catch (error) {
      return { ok: false, reason: failureOf(error) };
    }
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject.length === 0) return { ok: false, reason: 'invalid_claim' };
    return { ok: true, clientId: clientIdOf(subject), tier: this.#tierOf(payload) };
  }

  /** The tier the token's claim names; an absent or unusable value means the default tier. */
  #tierOf(payload: JWTPayload): string | undefined {
    const claim = this.#settings.tierClaim;
    if (claim === undefined) return undefined;
    const value = payload[claim];
    return typeof value === 'string' && SAFE_TIER.test(value) ? value : undefined;
  }
}

function failureOf(error: unknown): JwtFailure {
  if (error instanceof JwksUnavailableError) return 'jwks_unavailable';
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'not_yet_valid';
    if (error.claim === 'iss') return 'wrong_issuer';
    if (error.claim === 'aud') return 'wrong_audience';
    return error.reason === 'missing' ? 'missing_claim' : 'invalid_claim';
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return 'algorithm_not_allowed';
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return 'unknown_key';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  return 'malformed';
}
