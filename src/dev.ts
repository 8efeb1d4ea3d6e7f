// npm run dev: the gateway with friendly local defaults. Without provider keys it runs the
// built-in simulated providers; without API_KEYS it accepts one well-known development key.
// Never used by npm start or the Docker image.
import dotenv from 'dotenv';
import { BUILT_IN_PROVIDERS, envPrefix } from './providers/registry.ts';
import { DEV_API_KEY, startServer } from './server.ts';

dotenv.config({ quiet: true });
const env = process.env;
const hasProviderKey = BUILT_IN_PROVIDERS.some((row) => Boolean(env[`${envPrefix(row.name)}_API_KEY`]?.trim()));
env.API_KEYS ||= DEV_API_KEY;
env.HOST ||= '127.0.0.1';
env.PORT ||= '7860';
if (!hasProviderKey) env.SIMULATED_PROVIDERS ||= 'true';

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
        `  API key:   ${shown}`,
        `  docs:      ${address}/docs`,
        `  try:       curl -s ${address}/query -H 'X-API-Key: ${tryKey}' -H 'Content-Type: application/json' -d '{"prompt":"Hello"}'`,
        '',
      ].join('\n') + '\n',
    );
  },
});
