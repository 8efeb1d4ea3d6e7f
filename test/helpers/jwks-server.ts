// An identity provider's key set, served from loopback as a real JWKS endpoint, and the keys and
// tokens of that provider, made by the test with jose.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export type SigningAlg = 'RS256' | 'ES256' | 'EdDSA';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

export async function signingKey(kid: string, alg: SigningAlg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

export const ISSUER = 'https://id.example.test/';
export const AUDIENCE = 'secure-llm-router';

/** A token from the test's identity provider: valid for 5 minutes from `now` unless told otherwise. */
export function token(key: SigningKey, claims: JWTPayload = {}, options: { now?: number; kid?: string | null } = {}): Promise<string> {
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const header = { alg: key.alg, typ: 'JWT', ...(options.kid === null ? {} : { kid: options.kid ?? key.kid }) };
  const payload = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: now, exp: now + 300, ...claims };
  // Claims set to undefined are left out (a token without exp, without sub).
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete (payload as Record<string, unknown>)[name];
  return new SignJWT(payload).setProtectedHeader(header).sign(key.privateKey);
}

export type JwksMode = 'ok' | 'down' | 'hang';

export interface JwksServer {
  url: string;
  /** The public keys served. */
  keys: JWK[];
  mode: JwksMode;
  /** Requests received. */
  readonly fetches: number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: SigningKey[]): Promise<JwksServer> {
  const sockets = new Set<Socket>();
  let fetches = 0;
  const state: JwksServer = {
    url: '',
    keys: keys.map((key) => key.jwk),
    mode: 'ok',
    get fetches() {
      return fetches;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    fetches += 1;
    if (state.mode === 'hang') return;
    if (state.mode === 'down') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(JSON.stringify({ keys: state.keys }));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  return state;
}
