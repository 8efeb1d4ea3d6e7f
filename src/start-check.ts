// What stops the server before it serves, said in one line: a bad setting, or an address it cannot
// listen on. `npm run dev` asks before `node --watch`, which would otherwise meet the same mistake
// in its child and then wait for a file change instead of exiting.
import { createServer } from 'node:net';
import { ConfigError, loadConfig, type Config } from './config.ts';

/** What to do about an address the server cannot listen on, by error code. */
const LISTEN_ADVICE: Record<string, string> = {
  EADDRINUSE: 'another process is using that port: stop it, or choose another PORT',
  EACCES: 'that port needs privileges here: choose a PORT above 1023',
  EADDRNOTAVAIL: 'HOST is not an address of this machine: check HOST',
  ENOTFOUND: 'HOST is not a name this machine can resolve: check HOST',
  EAI_AGAIN: 'HOST could not be resolved just now: check HOST',
};

/** Whether a listen error is the operator's to fix (else it is a bug, and keeps its stack trace). */
export const isListenProblem = (code: string | undefined): boolean => code !== undefined && code in LISTEN_ADVICE;

export function listenProblem(host: string, port: number, code: string): string {
  return `Cannot listen on ${host} port ${port} (${code}): ${LISTEN_ADVICE[code] ?? 'check HOST and PORT'}`;
}

/** The line the server would exit with before serving, or undefined if it would start. */
export async function startProblem(env: Record<string, string | undefined>): Promise<string | undefined> {
  let config: Config;
  try {
    config = loadConfig(env);
    if (config.simulated) (await import('./simulator/faults.ts')).parseFaultSpec(config.simulatedFaults, [...config.providers.keys()]);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  const { host, port } = config;
  // Listening and closing at once: on Linux the port is free again the moment it is closed.
  const code = await new Promise<string | undefined>((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'an unknown error'));
    probe.listen({ port, host }, () => probe.close(() => resolve(undefined)));
  });
  return code === undefined ? undefined : listenProblem(host, port, code);
}
