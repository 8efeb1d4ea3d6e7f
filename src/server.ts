// The process: load config, start the simulator if asked, build the app, listen, and drain on
// SIGTERM/SIGINT within SHUTDOWN_GRACE_MS.
import closeWithGrace from 'close-with-grace';
import dotenv from 'dotenv';
import { buildApp } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { KeysFileError } from './clients/keys-file.ts';
import { createLogger } from './logger.ts';
import { createProviders } from './providers/registry.ts';
import type { Simulator } from './simulator/start-simulator.ts';
import { isListenProblem, listenProblem } from './start-check.ts';

/** The key `npm run dev` accepts when API_KEYS is unset. It is in the README: anyone knows it. */
import { DEV_API_KEY } from './dev-key.ts';

export { DEV_API_KEY };
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
  const app = await buildApp(config, { providers, logger }).catch((error: unknown) => {
    // A clients file that does not validate: one line naming what is wrong, as for a bad variable.
    if (!(error instanceof KeysFileError)) throw error;
    process.stderr.write(`Invalid configuration: KEYS_FILE ${error.message}\n`);
    process.exit(1);
  });
  // SIGHUP re-reads KEYS_FILE; a file that does not validate is logged and the clients stay.
  if (config.keysFile !== undefined) process.on('SIGHUP', () => void app.clients.reload());

  const onTimeout = () => {
    logger.error({ grace_ms: config.shutdownGraceMs }, 'requests still in flight after SHUTDOWN_GRACE_MS: exiting with them cut off');
    logger.flush();
  };
  // With a clients file, SIGHUP re-reads it (below) instead of shutting down.
  const skip = config.keysFile === undefined ? [] : (['SIGHUP'] as const);
  closeWithGrace({ delay: config.shutdownGraceMs, logger: false, onTimeout, skip: [...skip] }, async ({ signal, err }) => {
    if (err) logger.fatal({ err }, 'fatal error, shutting down');
    else logger.info({ signal }, 'shutting down: draining in-flight requests');
    await app.close();
    await simulator?.close();
    logger.info('stopped');
    logger.flush();
  });

  const address = await app.listen({ port: config.port, host: config.host }).catch(async (error: NodeJS.ErrnoException) => {
    if (!isListenProblem(error.code)) throw error;
    // Like a configuration error: one line saying what to change, not a stack trace.
    process.stderr.write(`${listenProblem(config.host, config.port, error.code ?? '')}\n`);
    await app.close();
    await simulator?.close();
    process.exit(1);
  });
  const listening = { address, providers: providers.map((p) => `${p.name}:${p.model}`), simulated: config.simulated };
  // No provider is a mistake to fix, not news: a warning, which LOG_LEVEL=warn still shows.
  if (providers.length === 0) {
    logger.warn(listening, 'listening, but no provider is configured: every /query will answer 503 until GEMINI_API_KEY, GROQ_API_KEY or OPENROUTER_API_KEY is set');
  } else {
    logger.info(listening, 'listening');
  }
  options.onListening?.(address, config);
}

if (import.meta.main) await startServer();
