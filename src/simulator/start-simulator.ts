// Simulated mode: a fake for every provider on loopback, and a Config that points the real
// adapters at them. Everything but the upstream is the same code that talks to the real providers.
// Each provider's fake is chosen by the wire its registry row speaks; an operator's own provider
// (EXTRA_PROVIDERS) gets a fake local model server.
import { randomUUID } from 'node:crypto';
import type { Config, ProviderSettings } from '../config.ts';
import type { ProviderRow } from '../providers/registry.ts';
import { startFakeGemini } from './fake-gemini.ts';
import { startFakeGroq } from './fake-groq.ts';
import { startFakeLocalRuntime } from './fake-local-runtime.ts';
import { startFakeOpenRouter } from './fake-openrouter.ts';
import type { FakeProviderServer } from './fake-server.ts';
import { parseFaultSpec } from './faults.ts';

/** The built-in providers' fakes by name, and any other provider's by its name. */
export interface FakeServers {
  gemini: FakeProviderServer;
  groq: FakeProviderServer;
  openrouter: FakeProviderServer;
  [name: string]: FakeProviderServer;
}

export interface Simulator {
  servers: FakeServers;
  /** The config with every provider's key and base URL replaced by the simulator's. */
  config: Config;
  close(): Promise<void>;
}

/** A fake of the row's wire, and the base URL its setting would hold against the real one (see .env.example). */
async function startFake(settings: ProviderSettings, apiKey: string): Promise<{ server: FakeProviderServer; baseUrl: string }> {
  const wire: ProviderRow['wire'] = settings.row.wire;
  if (wire === 'gemini') {
    const server = await startFakeGemini({ apiKey });
    return { server, baseUrl: server.url };
  }
  if (wire === 'groq') {
    const server = await startFakeGroq({ apiKey });
    return { server, baseUrl: server.url };
  }
  if (wire === 'openrouter') {
    const server = await startFakeOpenRouter({ apiKey });
    return { server, baseUrl: `${server.url}/api/v1` };
  }
  const server = await startFakeLocalRuntime({
    name: settings.name,
    models: [settings.model],
    ...(settings.embeddingModel === undefined ? {} : { embeddingModels: [settings.embeddingModel] }),
  });
  return { server, baseUrl: `${server.url}/v1` };
}

export async function startSimulator(config: Config): Promise<Simulator> {
  const faults = parseFaultSpec(config.simulatedFaults, [...config.providers.keys()]);
  const apiKey = `sim-${randomUUID()}`;
  const started = await Promise.all([...config.providers.values()].map(async (settings) => ({ settings, ...(await startFake(settings, apiKey)) })));
  const servers = {} as FakeServers;
  const providers = new Map(config.providers);
  for (const { settings, server, baseUrl } of started) {
    servers[settings.name] = server;
    const fault = faults[settings.name];
    if (fault) server.setDefault(fault);
    // A local runtime takes no key; the hosted ones get the simulator's.
    const key = settings.row.keyRequired ? apiKey : settings.apiKey;
    providers.set(settings.name, { ...settings, apiKey: key, baseUrl });
  }
  return {
    servers,
    config: { ...config, providers },
    close: async () => {
      await Promise.all(Object.values(servers).map((s) => s.close()));
    },
  };
}
