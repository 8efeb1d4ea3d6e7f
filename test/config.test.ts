import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_KEYS_HINT, ConfigError, documentedVariables, loadConfig } from '../src/config.ts';

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ API_KEYS: 'a-key' });
    expect(config).toMatchObject({
      apiKeys: ['a-key'],
      port: 7860,
      host: '0.0.0.0',
      rateLimitPerMinute: 10,
      maxConcurrentPerKey: 8,
      providerOrder: ['gemini', 'groq', 'openrouter'],
      providerTimeoutMs: 5000,
      requestTimeoutMs: 10_000,
      maxRetries: 1,
      // Inside the 10 s that docker stop (and most platforms) wait before SIGKILL.
      shutdownGraceMs: 8000,
      trustProxy: false,
      logLevel: 'info',
      simulated: false,
    });
    expect(config.providers.get('gemini')!).toMatchObject({
      name: 'gemini',
      apiKey: undefined,
      model: 'gemini-flash-lite-latest',
      baseUrl: 'https://generativelanguage.googleapis.com',
      embeddingModel: 'gemini-embedding-001',
      timeouts: { attemptMs: 5000, firstTokenMs: 4000 },
    });
    expect(config.providers.get('groq')!.baseUrl).toBe('https://api.groq.com');
    expect(config.providers.get('openrouter')!.baseUrl).toBe('https://openrouter.ai/api/v1');
  });

  it('parses lists, booleans and numbers from strings', () => {
    const config = loadConfig({
      API_KEYS: ' one , two,,three ',
      PROVIDER_ORDER: 'openrouter, gemini',
      TRUST_PROXY: 'true',
      PORT: '8080',
      GROQ_API_KEY: 'gsk-placeholder',
      GEMINI_API_KEY: '',
    });
    expect(config.apiKeys).toEqual(['one', 'two', 'three']);
    expect(config.providerOrder).toEqual(['openrouter', 'gemini']);
    expect(config.trustProxy).toBe(true);
    expect(config.port).toBe(8080);
    expect(config.providers.get('groq')!.apiKey).toBe('gsk-placeholder');
    expect(config.providers.get('gemini')!.apiKey).toBeUndefined();
  });

  it.each([
    ['true', true],
    ['yes', true],
    // A number counts the proxies in front of the gateway.
    ['1', 1],
    [' 2 ', 2],
    ['off', false],
    ['0', false],
    ['uniquelocal', ['uniquelocal']],
    [' 10.0.0.0/8, 172.16.0.0/12 ,fd00::/8, 127.0.0.1 ', ['10.0.0.0/8', '172.16.0.0/12', 'fd00::/8', '127.0.0.1']],
  ])('reads TRUST_PROXY=%j as %j', (value, expected) => {
    expect(loadConfig({ API_KEYS: 'k', TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it.each([
    ['', []],
    ['*', '*'],
    [' * ', '*'],
    ['https://app.example.com', ['https://app.example.com']],
    // As browsers send Origin: no trailing slash, lower-case host, no default port.
    ['https://app.example.com/, http://localhost:5173,HTTPS://Admin.Example.com:443', ['https://app.example.com', 'http://localhost:5173', 'https://admin.example.com']],
  ])('reads CORS_ORIGINS=%j as %j', (value, expected) => {
    expect(loadConfig({ API_KEYS: 'k', CORS_ORIGINS: value }).corsOrigins).toEqual(expected);
  });

  it.each([
    [{}, /API_KEYS is required/],
    [{ API_KEYS: ' , ' }, /API_KEYS must list at least one client key/],
    [{ API_KEYS: 'k', PORT: 'eighty' }, /^Invalid configuration: PORT must be a whole number from 0 to 65535$/],
    [{ API_KEYS: 'k', PORT: '70000' }, /PORT must be a whole number from 0 to 65535/],
    [{ API_KEYS: 'k', MAX_RETRIES: '1.5' }, /^Invalid configuration: MAX_RETRIES must be a whole number from 0 to 10$/],
    [{ API_KEYS: 'k', HOST: 'local host' }, /HOST must be an IP address \(0\.0\.0\.0, 127\.0\.0\.1, ::\) or a host name/],
    [{ API_KEYS: 'k', HOST: 'gateway.example.com:7860' }, /HOST must be an IP address/],
    // A query or fragment would swallow the path the gateway appends; credentials would be dropped.
    [{ API_KEYS: 'k', GROQ_BASE_URL: 'http://127.0.0.1:7995?tenant=a' }, /GROQ_BASE_URL must be a plain http\(s\) URL: no query, fragment or user:password/],
    [{ API_KEYS: 'k', OPENROUTER_BASE_URL: 'https://openrouter.ai/api/v1#x' }, /OPENROUTER_BASE_URL must be a plain http\(s\) URL/],
    [{ API_KEYS: 'k', GEMINI_BASE_URL: 'https://user:pass@relay.example.com' }, /GEMINI_BASE_URL must be a plain http\(s\) URL/],
    [{ API_KEYS: 'k', PROVIDER_ORDER: 'gemini,openai' }, /PROVIDER_ORDER/],
    [{ API_KEYS: 'k', PROVIDER_ORDER: 'groq,groq' }, /PROVIDER_ORDER must not repeat/],
    [{ API_KEYS: 'k', GROQ_BASE_URL: 'not a url' }, /GROQ_BASE_URL/],
    [{ API_KEYS: 'k', TRUST_PROXY: 'maybe' }, /TRUST_PROXY must be true, false, a number of proxies in front of the gateway \(1 to 16\), or a comma-separated list/],
    [{ API_KEYS: 'k', TRUST_PROXY: '17' }, /TRUST_PROXY must be/],
    [{ API_KEYS: 'k', TRUST_PROXY: '1.5' }, /TRUST_PROXY must be/],
    [{ API_KEYS: 'k', TRUST_PROXY: '-1' }, /TRUST_PROXY must be/],
    [{ API_KEYS: 'k', TRUST_PROXY: '10.0.0.0/33' }, /TRUST_PROXY must be/],
    [{ API_KEYS: 'k', TRUST_PROXY: '10.0.0.1, proxy.internal' }, /TRUST_PROXY must be/],
    [{ API_KEYS: 'k', CORS_ORIGINS: 'app.example.com' }, /CORS_ORIGINS must be "\*" or a comma-separated list of origins .*"app.example.com" is not one/],
    [{ API_KEYS: 'k', CORS_ORIGINS: 'https://app.example.com/login' }, /CORS_ORIGINS must be/],
    [{ API_KEYS: 'k', CORS_ORIGINS: 'https://app.example.com?x=1' }, /CORS_ORIGINS must be/],
    [{ API_KEYS: 'k', CORS_ORIGINS: 'ftp://files.example.com' }, /CORS_ORIGINS must be/],
    [{ API_KEYS: 'k', CORS_ORIGINS: '*, https://app.example.com' }, /CORS_ORIGINS may be "\*" \(every origin\) or a list of origins, not both/],
    [{ API_KEYS: 'k', LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ API_KEYS: 'k', FIRST_TOKEN_TIMEOUT_MS: '20000', REQUEST_TIMEOUT_MS: '10000' }, /FIRST_TOKEN_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS/],
    [{ API_KEYS: 'k', EXTRA_PROVIDERS: 'ollama', OLLAMA_BASE_URL: 'http://localhost:11434/v1', OLLAMA_MODEL: 'llama3.2', OLLAMA_FIRST_TOKEN_TIMEOUT_MS: '30000' }, /OLLAMA_FIRST_TOKEN_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS/],
    // Header values Node would refuse on every call to the provider.
    [{ API_KEYS: 'k', GROQ_API_KEY: 'gsk_one\ngsk_two' }, /GROQ_API_KEY may hold only characters allowed in an HTTP header/],
    [{ API_KEYS: 'k', OPENROUTER_API_KEY: 'sk-or-\u0001' }, /OPENROUTER_API_KEY may hold only/],
    [{ API_KEYS: 'k', OPENROUTER_APP_TITLE: '私のアプリ' }, /OPENROUTER_APP_TITLE may hold only/],
    [{ API_KEYS: 'k', OPENROUTER_APP_URL: 'https://example.com/\r\nX-Injected: 1' }, /OPENROUTER_APP_URL may hold only/],
    // Model ids go into request bodies and Gemini's request path.
    [{ API_KEYS: 'k', GEMINI_MODEL: '../../v1/files' }, /GEMINI_MODEL must be a model id/],
    [{ API_KEYS: 'k', GEMINI_MODEL: 'gemini-2.5-flash?key=x' }, /GEMINI_MODEL must be a model id/],
    [{ API_KEYS: 'k', GROQ_MODEL: 'llama 3' }, /GROQ_MODEL must be a model id/],
    [{ API_KEYS: 'k', OPENROUTER_MODEL: '-x' }, /OPENROUTER_MODEL must be a model id/],
    [{ API_KEYS: 'k', GEMINI_EMBEDDING_MODEL: 'models/../x' }, /GEMINI_EMBEDDING_MODEL must be a model id/],
    // Quotas: named windows with whole numbers, each once.
    [{ API_KEYS: 'k', GROQ_LIMITS: 'rpm=30,rph=5' }, /GROQ_LIMITS must be none, or a comma-separated list of rpm=, rpd=, tpm=, tpd= .*\("rph=5" is not one\)/],
    [{ API_KEYS: 'k', GEMINI_LIMITS: 'rpm=0' }, /GEMINI_LIMITS must be none/],
    [{ API_KEYS: 'k', OPENROUTER_LIMITS: 'rpm=1,rpm=2' }, /OPENROUTER_LIMITS must be none/],
    [{ API_KEYS: 'k', GROQ_LIMITS: 'rpm=1.5' }, /GROQ_LIMITS must be none/],
    [{ API_KEYS: 'k', HEDGE_AFTER_MS: '-1' }, /HEDGE_AFTER_MS must be a whole number from 0 to 600000/],
  ])('rejects %j with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('takes a blank value as unset, and trims the listen address', () => {
    const config = loadConfig({ API_KEYS: 'k', PORT: ' ', SHUTDOWN_GRACE_MS: '\t', MAX_RETRIES: '  ', HOST: ' 127.0.0.1 ' });
    expect(config).toMatchObject({ port: 7860, shutdownGraceMs: 8_000, maxRetries: 1, host: '127.0.0.1' });
    expect(loadConfig({ API_KEYS: 'k', HOST: '::' }).host).toBe('::');
    expect(loadConfig({ API_KEYS: 'k', HOST: 'localhost' }).host).toBe('localhost');
    expect(() => loadConfig({ API_KEYS: '   ' })).toThrow(new ConfigError(`Invalid configuration: API_KEYS is required ${API_KEYS_HINT}`));
  });

  it('takes the model ids providers use, including a Gemini resource name', () => {
    const config = loadConfig({
      API_KEYS: 'k',
      GEMINI_MODEL: 'tunedModels/my-model-123',
      GROQ_MODEL: 'meta-llama/llama-4-scout-17b-16e-instruct',
      OPENROUTER_MODEL: ' meta-llama/llama-3.3-70b-instruct:free ',
    });
    expect(config.providers.get('gemini')!.model).toBe('tunedModels/my-model-123');
    expect(config.providers.get('groq')!.model).toBe('meta-llama/llama-4-scout-17b-16e-instruct');
    expect(config.providers.get('openrouter')!.model).toBe('meta-llama/llama-3.3-70b-instruct:free');
  });

  it("seeds each provider's quota from its LIMITS, or the published free-tier figures for its model", () => {
    const defaults = loadConfig({ API_KEYS: 'k' });
    expect(defaults.providers.get('groq')!.quota).toEqual({ limits: { rpm: 30, rpd: 1000, tpm: 8000, tpd: 200_000 }, day: 'utc' });
    expect(defaults.providers.get('openrouter')!.quota).toEqual({ limits: { rpm: 20, rpd: 50 }, day: 'utc' });
    // Gemini publishes no fixed figures: tracked, limits learned from its 429s; its day turns at midnight Pacific.
    expect(defaults.providers.get('gemini')!.quota).toEqual({ limits: {}, day: 'pacific' });
    expect(defaults.hedgeAfterMs).toBeUndefined();

    const set = loadConfig({
      API_KEYS: 'k',
      GROQ_LIMITS: ' RPM=5, tpd=100 ',
      GROQ_MODEL: 'qwen/qwen3.6-27b',
      OPENROUTER_LIMITS: 'none',
      OPENROUTER_MODEL: 'openai/gpt-4o',
      EXTRA_PROVIDERS: 'ollama',
      OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1',
      OLLAMA_MODEL: 'llama3',
      OLLAMA_LIMITS: 'rpm=60',
      HEDGE_AFTER_MS: '800',
    });
    expect(set.providers.get('groq')!.quota.limits).toEqual({ rpm: 5, tpd: 100 });
    expect(set.providers.get('openrouter')!.quota.limits).toBeNull();
    expect(set.providers.get('ollama')!.quota).toEqual({ limits: { rpm: 60 }, day: 'utc' });
    expect(set.hedgeAfterMs).toBe(800);
    // A model without published figures starts with none known.
    expect(loadConfig({ API_KEYS: 'k', GROQ_MODEL: 'qwen/qwen3.6-27b' }).providers.get('groq')!.quota.limits).toEqual({});
    expect(loadConfig({ API_KEYS: 'k', OPENROUTER_MODEL: 'openai/gpt-4o' }).providers.get('openrouter')!.quota.limits).toEqual({});
  });

  it('takes a key with a trailing line break (as a file or a copy often has it) without the break', () => {
    const config = loadConfig({ API_KEYS: 'k', GEMINI_API_KEY: 'AIza-placeholder\n', OPENROUTER_APP_TITLE: 'Café router' });
    expect(config.providers.get('gemini')!.apiKey).toBe('AIza-placeholder');
    expect(config.providers.get('openrouter')!.options.APP_TITLE).toBe('Café router');
  });

  it('never puts a secret value into its error message', () => {
    const messageOf = (env: Record<string, string>): string => {
      try {
        loadConfig(env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error(`accepted ${Object.keys(env).join(', ')}`);
    };
    const badKey = messageOf({ API_KEYS: 'k', GROQ_API_KEY: 'gsk-secret\u0001value' });
    expect(badKey).toMatch(/GROQ_API_KEY/);
    expect(badKey).not.toContain('gsk-secret');
    const badPort = messageOf({ API_KEYS: 'k', GEMINI_API_KEY: 'AIza-secret-value', PORT: 'bad' });
    expect(badPort).toMatch(/PORT/);
    expect(badPort).not.toContain('AIza-secret-value');
  });
});

describe('the documented configuration', () => {
  const variables = documentedVariables();
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));

  it('lists every variable in .env.example, with nothing else', () => {
    const listed = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    expect([...listed].sort()).toEqual([...variables].sort());
  });

  it("describes every variable in the README's configuration table", () => {
    for (const name of variables) expect(table, name).toContain(`\`${name}\``);
  });

  it('keeps .env.example free of real-looking secrets, and of any client key that would work', () => {
    const values = Object.fromEntries([...example.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    expect(values.API_KEYS).toBe('');
    expect(() => loadConfig(values)).toThrow(/API_KEYS/);
    expect(loadConfig({ ...values, API_KEYS: 'a-key-of-my-own' })).toBeTruthy();
    expect(example).not.toMatch(/(gsk_|sk-or-|AIza)[A-Za-z0-9_-]{10,}/);
  });
});
