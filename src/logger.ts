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
  'apiKey',
  'api_key',
  'apiKeys',
  'metricsToken',
];

const CENSOR = '[redacted]';

/** Fields that hold a secret in any object logged one level down ({ provider: { apiKey } }). */
const SECRET_FIELDS = ['apiKey', 'api_key', 'apiKeys', 'metricsToken'];

/**
 * Censors SECRET_FIELDS in the objects a log line carries (not in child loggers' bindings, which
 * pino serialises once, when the child is made: the gateway binds request ids there, nothing else). Pino's redaction could do this with
 * `*.apiKey` paths, but a path that starts with a wildcard runs pino's redactor on every value of
 * every line (the method, the status...), which re-parses its paths and copies the value each
 * time: a sixth of the gateway's allocation per request. Here a line without such a field costs
 * a look at each of its objects, and nothing is copied.
 */
export function censorSecretFields(entry: Record<string, unknown>): Record<string, unknown> {
  let censored: Record<string, unknown> | undefined;
  for (const key in entry) {
    const value = entry[key];
    if (typeof value !== 'object' || value === null || !SECRET_FIELDS.some((field) => Object.hasOwn(value, field))) continue;
    // A copy with every property (an Error's message and stack are not enumerable) and its
    // prototype, so serializers see the same kind of object; the logged object, frozen or not,
    // stays as it was.
    const properties = Object.getOwnPropertyDescriptors(value);
    for (const field of SECRET_FIELDS) {
      if (Object.hasOwn(properties, field)) properties[field] = { value: CENSOR, enumerable: true, writable: true, configurable: true };
    }
    // V8 computes an error's stack for the error itself; on the copy it would read empty.
    if (value instanceof Error) properties.stack = { value: value.stack, writable: true, configurable: true };
    censored ??= { ...entry };
    censored[key] = Object.create(Object.getPrototypeOf(value), properties);
  }
  return censored ?? entry;
}

/** The scheme and authority of an absolute-form target (`http://user:KEY@host`), or `//authority`. */
const AUTHORITY = /^(?:[a-z][a-z0-9+.-]*:)?\/\/[^/?#]*/i;

/**
 * What a log line keeps of a request target: the path alone. A client may put its key after the
 * path (`?api_key=`, `#api_key=`, `;api_key=`) or in the userinfo of an absolute-form target
 * (`http://user:KEY@host/query`); none of that is kept.
 */
export function loggedPath(target: string): string {
  // The usual origin-form target ("/query") skips the regular expression.
  const authority = target.charCodeAt(0) === 0x2f && target.charCodeAt(1) !== 0x2f ? null : AUTHORITY.exec(target);
  const rest = authority === null ? target : target.slice(authority[0].length);
  const end = rest.search(/[?#;]/);
  const path = end === -1 ? rest : rest.slice(0, end);
  return authority !== null && path === '' ? '/' : path;
}

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
    redact: { paths: REDACTED_PATHS, censor: CENSOR },
    formatters: { log: censorSecretFields },
    base: { service: 'secure-llm-router' },
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service' } } });
  }
  return pino(base, pino.destination({ dest: 1, sync: false, minLength: 0 }));
}
