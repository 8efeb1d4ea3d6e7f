// What the running gateway serves, read from its own OpenAPI document: the documented paths and
// each body's required fields, so suites send what the document says rather than a copy of it.
import { KEY, type TestGateway } from './gateway.ts';

export interface OpenApiOperation {
  requestBody?: { content?: Record<string, { schema?: { required?: string[] } }> };
}

export interface ServedRoutes {
  /** Path -> lower-case methods, as documented. */
  paths: Record<string, string[]>;
  has(method: string, path: string): boolean;
  /** The body schema's required fields for a documented operation. */
  required(method: string, path: string): string[];
}

export async function servedRoutes(gateway: TestGateway): Promise<ServedRoutes> {
  const response = await fetch(`${gateway.url}/docs/json`);
  const document = (await response.json()) as { paths?: Record<string, Record<string, OpenApiOperation>> };
  const raw = document.paths ?? {};
  const paths = Object.fromEntries(Object.entries(raw).map(([path, operations]) => [path, Object.keys(operations)]));
  return {
    paths,
    has: (method, path) => paths[path]?.includes(method.toLowerCase()) ?? false,
    required: (method, path) =>
      raw[path]?.[method.toLowerCase()]?.requestBody?.content?.['application/json']?.schema?.required ?? [],
  };
}

/**
 * The model to name in an OpenAI-style request: none when the schema makes `model` optional
 * (the gateway's own cascade answers), otherwise the first one GET /v1/models lists.
 */
export async function openAiModel(gateway: TestGateway, routes: ServedRoutes, path: string): Promise<string | undefined> {
  if (!routes.required('post', path).includes('model')) return undefined;
  if (routes.has('get', '/v1/models')) {
    const response = await fetch(`${gateway.url}/v1/models`, { headers: { 'x-api-key': KEY } });
    const list = (await response.json()) as { data?: Array<{ id?: unknown }> };
    const id = list.data?.[0]?.id;
    if (typeof id === 'string') return id;
  }
  return 'auto';
}
