// Pino, asynchronous on stdout so logging never blocks a request, with secrets redacted by path
// rather than filtered by hand.
import { pino, type DestinationStream, type Logger } from 'pino';

export const REDACTED_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers["x-api-key"]',
  'headers.authorization',
  'headers["x-goog-api-key"]',
  '*.apiKey',
  '*.api_key',
  '*.apiKeys',
  'apiKey',
  'apiKeys',
];

export interface LoggerOptions {
  level: string;
  /** Where lines go; defaults to asynchronous stdout. Tests pass a capturing stream. */
  destination?: DestinationStream;
  /** Human-readable output for development. */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: 'secure-llm-router' },
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service' } } });
  }
  return pino(base, pino.destination({ dest: 1, sync: false, minLength: 0 }));
}
