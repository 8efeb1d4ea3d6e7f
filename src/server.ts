// The process: load config, start the simulator if asked, build the app, listen, and drain on
// SIGTERM/SIGINT within SHUTDOWN_GRACE_MS.
import closeWithGrace from 'close-with-grace';
import dotenv from 'dotenv';
import { buildApp } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger } from './logger.ts';
import { createProviders } from './providers/registry.ts';
import type { Simulator } from './simulator/start-simulator.ts';

/** The key `npm run dev` accepts when API_KEYS is unset. It is in the README: anyone knows it. */
export const DEV_API_KEY = 'dev-key-change-me';
/** The shortest client key a production start accepts (`openssl rand -hex 24` makes 48 characters). */
export const MIN_API_KEY_LENGTH = 24;

/**
 * Refuses client keys anyone could guess: the development key, and keys shorter than
 * MIN_API_KEY_LENGTH. One line naming the keys by position (key-2), never by value.
 */
export function checkClientKeys(keys: readonly string[]): void {
  const devKey: string[] = [];
  const short: string[] = [];
  keys.forEach((key, index) => {
    if (key === DEV_API_KEY) devKey.push(`key-${index + 1}`);
    else if (key.length < MIN_API_KEY_LENGTH) short.push(`key-${index + 1}`);
  });
  const problems = [
    ...(devKey.length > 0 ? [`${devKey.join(', ')} is the development key ${DEV_API_KEY}, which anyone can read in the README`] : []),
    ...(short.length > 0 ? [`${short.join(', ')} ${short.length === 1 ? 'is' : 'are'} shorter than ${MIN_API_KEY_LENGTH} characters`] : []),
  ];
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration: API_KEYS ${problems.join('; ')}. Generate each key with: openssl rand -hex 24 (only npm run dev accepts such keys)`);
  }
}

export interface StartOptions {
  prettyLogs?: boolean;
  /** npm run dev: accepts the development key and short keys, for a gateway on loopback. */
  development?: boolean;
  /** Called once the server listens, with its address and final config. */
  onListening?: (address: string, config: Config) => void;
}

/** Why a server cannot listen that the operator can fix: the port is taken or reserved, the host is not this machine's. */
const LISTEN_FAILURES = new Set(['EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES', 'ENOTFOUND', 'EAI_AGAIN']);

export async function startServer(options: StartOptions = {}): Promise<void> {
  dotenv.config({ quiet: true });
  let config: Config;
  let simulator: Simulator | undefined;
  try {
    config = loadConfig(process.env);
    if (!options.development) checkClientKeys(config.apiKeys);
    if (config.simulated) {
      // Loaded only when asked for: production never carries the fake servers.
      const { startSimulator } = await import('./simulator/start-simulator.ts');
      simulator = await startSimulator(config);
      config = simulator.config;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  const logger = createLogger({ level: config.logLevel, pretty: options.prettyLogs ?? false });
  const providers = await createProviders(config);
  const app = await buildApp(config, { providers, logger });

  const onTimeout = () => {
    logger.error({ grace_ms: config.shutdownGraceMs }, 'requests still in flight after SHUTDOWN_GRACE_MS: exiting with them cut off');
    logger.flush();
  };
  closeWithGrace({ delay: config.shutdownGraceMs, logger: false, onTimeout }, async ({ signal, err }) => {
    if (err) logger.fatal({ err }, 'fatal error, shutting down');
    else logger.info({ signal }, 'shutting down: draining in-flight requests');
    await app.close();
    await simulator?.close();
    logger.info('stopped');
    logger.flush();
  });

  const address = await app.listen({ port: config.port, host: config.host }).catch(async (error: NodeJS.ErrnoException) => {
    if (!LISTEN_FAILURES.has(error.code ?? '')) throw error;
    // Like a configuration error: one line saying what to change, not a stack trace.
    process.stderr.write(`Cannot listen on ${config.host} port ${config.port} (${error.code}): check HOST and PORT\n`);
    await app.close();
    await simulator?.close();
    process.exit(1);
  });
  logger.info(
    {
      address,
      providers: providers.map((p) => `${p.name}:${p.model}`),
      simulated: config.simulated,
    },
    providers.length === 0
      ? 'listening, but no provider is configured: every /query will answer 503'
      : 'listening',
  );
  options.onListening?.(address, config);
}

if (import.meta.main) await startServer();
