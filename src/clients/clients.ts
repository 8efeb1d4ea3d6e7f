// Who may call the gateway and what each may do: the API_KEYS clients (key-1, key-2, ...), the
// clients of KEYS_FILE, and the tiers that signed-in users' tokens name. The file is re-read on
// reload() (SIGHUP, see app.ts); a file that does not validate leaves the clients as they were.
import { hash, timingSafeEqual } from 'node:crypto';
import { readKeysFile, type ClientDirectory, type Policy } from './keys-file.ts';

export type { Policy } from './keys-file.ts';

/** The tier API_KEYS clients and signed-in users without a known tier belong to. */
export const DEFAULT_TIER = 'default';

export interface Client {
  /** The name logs, metrics and usage records know it by. */
  name: string;
  policy: Policy;
}

export interface ClientsLog {
  info(object: object, message: string): void;
  error(object: object, message: string): void;
}

// One-shot hashing: no Hash object per request.
const digest = (value: string) => hash('sha256', value, 'buffer');

export class Clients {
  readonly #apiKeys: Array<{ name: string; digest: Buffer }>;
  readonly #keysFile: string | undefined;
  readonly #defaultPerMinute: number;
  readonly #log: ClientsLog;
  #directory: ClientDirectory = { clients: [], tiers: new Map() };
  #keyed: Array<{ digest: Buffer; client: Client }> = [];
  #defaultPolicy!: Policy;

  constructor(settings: { apiKeys: readonly string[]; keysFile: string | undefined; rateLimitPerMinute: number }, log: ClientsLog) {
    this.#apiKeys = settings.apiKeys.map((key, index) => ({ name: `key-${index + 1}`, digest: digest(key) }));
    this.#keysFile = settings.keysFile;
    this.#defaultPerMinute = settings.rateLimitPerMinute;
    this.#log = log;
    this.#use(this.#directory);
  }

  /** Reads KEYS_FILE (when set); throws a KeysFileError at start, so a bad file stops the gateway. */
  async load(): Promise<void> {
    if (this.#keysFile === undefined) return;
    this.#use(await readKeysFile(this.#keysFile, this.#defaultPerMinute));
    this.#log.info({ clients: this.#directory.clients.length, tiers: [...this.#directory.tiers.keys()] }, 'clients file loaded');
  }

  /** Re-reads KEYS_FILE; a file that does not validate is logged and the clients stay as they were. */
  async reload(): Promise<boolean> {
    if (this.#keysFile === undefined) return false;
    try {
      await this.load();
      return true;
    } catch (error) {
      this.#log.error({ reason: (error as Error).message }, 'clients file not reloaded: the clients stay as they were');
      return false;
    }
  }

  #use(directory: ClientDirectory): void {
    this.#directory = directory;
    this.#defaultPolicy = directory.tiers.get(DEFAULT_TIER) ?? {
      tier: DEFAULT_TIER,
      requestsPerMinute: this.#defaultPerMinute,
      tokensPerDay: undefined,
      routes: undefined,
      models: undefined,
      maxTokens: undefined,
    };
    const fromEnv = this.#apiKeys.map(({ name, digest: d }) => ({ digest: d, client: { name, policy: this.#defaultPolicy } }));
    const fromFile = directory.clients.map((c) => ({ digest: c.digest, client: { name: c.name, policy: c.policy } }));
    this.#keyed = [...fromEnv, ...fromFile];
  }

  /**
   * The client a presented key belongs to. Compares the key's digest with every client's, always,
   * so timing reveals neither a match nor its position.
   */
  match(candidate: string): Client | undefined {
    const presented = digest(candidate);
    let found: Client | undefined;
    for (const entry of this.#keyed) {
      if (timingSafeEqual(presented, entry.digest) && found === undefined) found = entry.client;
    }
    return found;
  }

  /** A signed-in user's policy: the tier their token names, when the file defines it, else the default. */
  policyForTier(tier: string | undefined): Policy {
    return (tier === undefined ? undefined : this.#directory.tiers.get(tier)) ?? this.#defaultPolicy;
  }
}
