// Simulated mode: the three fake providers on loopback, and a Config that points the real
// adapters at them. Everything but the upstream is the same code that talks to the real providers.
import { randomUUID } from 'node:crypto';
import type { Config, ProviderName } from '../config.ts';
import { startFakeGemini } from './fake-gemini.ts';
import { startFakeGroq } from './fake-groq.ts';
import { startFakeOpenRouter } from './fake-openrouter.ts';
import type { FakeProviderServer } from './fake-server.ts';
import { parseFaultSpec } from './faults.ts';

export interface Simulator {
  servers: Record<ProviderName, FakeProviderServer>;
  /** The config with every provider's key and base URL replaced by the simulator's. */
  config: Config;
  close(): Promise<void>;
}

export async function startSimulator(config: Config): Promise<Simulator> {
  const faults = parseFaultSpec(config.simulatedFaults);
  const apiKey = `sim-${randomUUID()}`;
  const [gemini, groq, openrouter] = await Promise.all([
    startFakeGemini({ apiKey }),
    startFakeGroq({ apiKey }),
    startFakeOpenRouter({ apiKey }),
  ]);
  const servers = { gemini, groq, openrouter };
  for (const [name, fault] of Object.entries(faults)) servers[name as ProviderName].setDefault(fault);

  // Each base URL is what the real provider's base URL setting would hold (see .env.example).
  const baseUrls: Record<ProviderName, string> = {
    gemini: gemini.url,
    groq: groq.url,
    openrouter: `${openrouter.url}/api/v1`,
  };
  const providers = { ...config.providers };
  for (const name of Object.keys(servers) as ProviderName[]) {
    providers[name] = { ...providers[name], apiKey, baseUrl: baseUrls[name] };
  }
  return {
    servers,
    config: { ...config, providers },
    close: async () => {
      await Promise.all(Object.values(servers).map((s) => s.close()));
    },
  };
}
