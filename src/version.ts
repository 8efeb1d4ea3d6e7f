// The gateway's version, from package.json: reported by /health and the API docs, and sent to
// providers in the User-Agent.
import packageJson from '../package.json' with { type: 'json' };

export const VERSION: string = packageJson.version;
export const USER_AGENT = `secure-llm-router/${VERSION}`;
