// npm run dev: the gateway with friendly local defaults. Without provider keys it runs the
// built-in simulated providers; without API_KEYS it accepts one well-known development key.
// Never used by npm start or the Docker image.
import dotenv from 'dotenv';
import type { Config } from './config.ts';
import { DEV_API_KEY } from './dev-key.ts';
import { BUILT_IN_PROVIDERS, envPrefix, isConfigured } from './providers/registry.ts';
import { parseFaultSpec, stillAnswers } from './simulator/faults.ts';
import { startProblem } from './start-check.ts';

export { DEV_API_KEY };

dotenv.config({ quiet: true });
const env = process.env;
const hasProviderKey = BUILT_IN_PROVIDERS.some((row) => Boolean(env[`${envPrefix(row.name)}_API_KEY`]?.trim()));
env.API_KEYS ||= DEV_API_KEY;
env.HOST ||= '127.0.0.1';
env.PORT ||= '7860';
if (!hasProviderKey) env.SIMULATED_PROVIDERS ||= 'true';

/** The banner's faults line: what SIMULATED_FAULTS makes fail, or how to try it. */
function faultsLine(config: Config): string {
  const faults = config.simulatedFaults.split(',').map((part) => part.trim()).filter(Boolean);
  return faults.length > 0 ? `${faults.join(', ')} (SIMULATED_FAULTS)` : 'none (SIMULATED_FAULTS=gemini=down npm run dev shows the fallback)';
}

/** The banner's answers line: the first provider in PROVIDER_ORDER that has a key and no failing fault. */
function answersLine(config: Config): string {
  const faults = config.simulated ? parseFaultSpec(config.simulatedFaults, [...config.providers.keys()]) : {};
  const order = config.providerOrder.join(', ');
  const configured = (name: string) => {
    const settings = config.providers.get(name);
    return settings !== undefined && (config.simulated || isConfigured(settings));
  };
  const first = config.providerOrder.find((name) => configured(name) && stillAnswers(faults[name]));
  if (first !== undefined) return `${first} first (PROVIDER_ORDER: ${order})`;
  return `none: every provider in PROVIDER_ORDER (${order}) ${config.simulated ? 'is set to fail' : 'lacks a key'}, so /query answers 503`;
}

// `npm run dev` runs this first with --preflight: a mistake found here stops it with one line,
// where `node --watch` would have waited for a file change after its child exited.
if (process.argv.includes('--preflight')) {
  const problem = await startProblem(env);
  if (problem !== undefined) process.stderr.write(`${problem}\n`);
  process.exit(problem === undefined ? 0 : 1);
}

const { startServer } = await import('./server.ts');
await startServer({
  prettyLogs: !env.NO_PRETTY_LOGS,
  // Any key, the development key included: npm start refuses weak ones.
  development: true,
  onListening: (address, config) => {
    // The public development key is shown; a real one never is, not even in part.
    const devKey = config.apiKeys.includes(DEV_API_KEY);
    const count = config.apiKeys.length;
    const shown = devKey ? DEV_API_KEY : `${count === 1 ? 'the one' : `one of the ${count}`} in API_KEYS`;
    const tryKey = devKey ? DEV_API_KEY : '<your key>';
    process.stdout.write(
      [
        '',
        `  secure-llm-router (development) on ${address}`,
        `  providers: ${config.simulated ? 'simulated (no provider keys needed)' : 'real (keys from the environment)'}`,
        ...(config.simulated ? [`  faults:    ${faultsLine(config)}`] : []),
        `  answers:   ${answersLine(config)}`,
        `  API key:   ${shown}`,
        `  docs:      ${address}/docs`,
        `  try:       curl -s ${address}/query -H 'X-API-Key: ${tryKey}' -H 'Content-Type: application/json' -d '{"prompt":"Hello"}'`,
        '',
      ].join('\n') + '\n',
    );
  },
});
