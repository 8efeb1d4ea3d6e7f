// Who may read GET /metrics. With METRICS_TOKEN set: whoever sends it as a Bearer token, compared
// in constant time. Without it: only a direct connection from this machine, meaning a TCP peer in
// 127.0.0.0/8 or ::1 (IPv4-mapped forms included) whose request carries no forwarding header. The
// peer's own address decides, never X-Forwarded-For (TRUST_PROXY does not apply), and a request a
// local reverse proxy relays (it says so in Forwarded, X-Forwarded-For or X-Real-IP) is not local:
// behind such a proxy, or on a Hugging Face Space, where the port is public, set METRICS_TOKEN.
import { hash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'] as const;

export function isLoopback(address: string | undefined): boolean {
  const family = address === undefined ? 0 : isIP(address);
  return family !== 0 && LOOPBACK.check(address as string, family === 4 ? 'ipv4' : 'ipv6');
}

/** A direct connection from this machine, not one relayed for someone else. */
export function fromThisMachine(request: FastifyRequest): boolean {
  return isLoopback(request.raw.socket.remoteAddress) && FORWARDING_HEADERS.every((name) => request.headers[name] === undefined);
}

/** The token of "Authorization: Bearer <token>" (the scheme is case-insensitive, RFC 9110). */
export function bearerToken(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization !== 'string' || !/^bearer /i.test(authorization)) return undefined;
  const token = authorization.slice(7).trim();
  return token.length > 0 ? token : undefined;
}

// One-shot SHA-256: equal-length digests for timingSafeEqual, whatever length was presented.
const digest = (value: string) => hash('sha256', value, 'buffer');

/** A check of a presented token against the configured one that takes the same time either way. */
export function tokenCheck(token: string): (presented: string | undefined) => boolean {
  const expected = digest(token);
  return (presented) => timingSafeEqual(digest(presented ?? ''), expected);
}
