// The clients file (KEYS_FILE, YAML or JSON): tiers of limits and permissions, and the clients
// that belong to them, each by the SHA-256 of its key (the key itself is never stored). Read at
// start and on SIGHUP; a file that does not validate is refused whole, naming what is wrong.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** Hex SHA-256, as `npm run keys -- hash` prints it. */
const sha256 = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[0-9a-f]{64}$/, 'must be the 64 hex digits of the key\'s SHA-256 (npm run keys -- hash)');

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const name = z.string().regex(NAME, 'must be 1 to 64 letters, digits, _ . - (it appears in logs and metrics)');

/** What a tier sets; a client's overrides may set any of it again. */
const limits = z.strictObject({
  requests_per_minute: z.number().int().min(1).max(1_000_000).optional(),
  tokens_per_day: z.number().int().min(1).optional(),
  /** Route paths as the API documents them ("/query", "/v1/chat/completions"); unset: every route. */
  routes: z.array(z.string().startsWith('/')).optional(),
  /** "groq" (any model on it), "groq/llama-3.3-70b-versatile", or "groq/*"; unset: every model. */
  models: z.array(z.string().min(1)).optional(),
  /** The most tokens an answer may ask for; a request asking for more gets this many. */
  max_tokens: z.number().int().min(1).optional(),
});

const client = z.strictObject({
  name,
  key_sha256: sha256,
  tier: name,
  overrides: limits.optional(),
});

export const keysFileSchema = z
  .strictObject({
    tiers: z.record(name, limits),
    clients: z.array(client).default([]),
  })
  .superRefine((file, ctx) => {
    const names = new Set<string>();
    const digests = new Set<string>();
    file.clients.forEach((c, index) => {
      if (!(c.tier in file.tiers)) ctx.addIssue({ code: 'custom', path: ['clients', index, 'tier'], message: `names tier "${c.tier}", which the file does not define` });
      if (names.has(c.name)) ctx.addIssue({ code: 'custom', path: ['clients', index, 'name'], message: `repeats the client name "${c.name}"` });
      if (digests.has(c.key_sha256)) ctx.addIssue({ code: 'custom', path: ['clients', index, 'key_sha256'], message: 'repeats another client\'s key' });
      names.add(c.name);
      digests.add(c.key_sha256);
    });
  });

export type KeysFile = z.output<typeof keysFileSchema>;

/** What one client (or one tier) may do; undefined: no limit of that kind. */
export interface Policy {
  tier: string;
  requestsPerMinute: number;
  tokensPerDay: number | undefined;
  routes: ReadonlySet<string> | undefined;
  models: readonly string[] | undefined;
  maxTokens: number | undefined;
}

export interface FileClient {
  name: string;
  digest: Buffer;
  policy: Policy;
}

export interface ClientDirectory {
  clients: FileClient[];
  /** Each tier's own policy, for signed-in users whose token names a tier. */
  tiers: Map<string, Policy>;
}

type Limits = z.output<typeof limits>;

function policyOf(tier: string, base: Limits, overrides: Limits | undefined, defaultPerMinute: number): Policy {
  const merged = { ...base, ...overrides };
  return {
    tier,
    requestsPerMinute: merged.requests_per_minute ?? defaultPerMinute,
    tokensPerDay: merged.tokens_per_day,
    routes: merged.routes === undefined ? undefined : new Set(merged.routes),
    models: merged.models,
    maxTokens: merged.max_tokens,
  };
}

export class KeysFileError extends Error {
  override name = 'KeysFileError';
}

/** Parses and validates the file's text; `defaultPerMinute` (RATE_LIMIT_PER_MINUTE) fills a tier that sets none. */
export async function parseKeysFile(text: string, path: string, defaultPerMinute: number): Promise<ClientDirectory> {
  // The YAML parser is loaded only for a YAML file: no memory for it otherwise.
  const parse: (source: string) => unknown = path.endsWith('.json') ? (source) => JSON.parse(source) : (await import('yaml')).parse;
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new KeysFileError(`${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = keysFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'the file'} ${issue.message}`);
    throw new KeysFileError(`${path} is invalid: ${problems.join('; ')}`);
  }
  const { tiers, clients } = parsed.data;
  return {
    tiers: new Map(Object.entries(tiers).map(([tier, set]) => [tier, policyOf(tier, set, undefined, defaultPerMinute)])),
    clients: clients.map((c) => ({
      name: c.name,
      digest: Buffer.from(c.key_sha256, 'hex'),
      policy: policyOf(c.tier, tiers[c.tier] as Limits, c.overrides, defaultPerMinute),
    })),
  };
}

export async function readKeysFile(path: string, defaultPerMinute: number): Promise<ClientDirectory> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new KeysFileError(`${path} could not be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseKeysFile(text, path, defaultPerMinute);
}
