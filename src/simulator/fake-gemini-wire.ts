// Bodies the Gemini API really sends (google.rpc.Status errors, GenerateContentResponse, Model),
// kept apart from the routing so the fake reads as "which body, when".
import { createHash } from 'node:crypto';

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const STATUS_MESSAGES: Record<number, string> = {
  500: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  503: 'The model is overloaded. Please try again later.',
  504: 'Deadline expired before operation could complete.',
};

export function statusBody(code: number, message?: string, details?: unknown[], status?: string): unknown {
  return {
    error: {
      code,
      message: message ?? STATUS_MESSAGES[code] ?? 'Request failed.',
      status: status ?? STATUS_NAMES[code] ?? (code >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION'),
      ...(details ? { details } : {}),
    },
  };
}

export const MISSING_KEY_BODY = statusBody(
  403,
  "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
);

// A wrong key is a 400, not a 401; only the ErrorInfo reason tells it apart from other 400s.
export const INVALID_KEY_BODY = statusBody(400, 'API key not valid. Please pass a valid API key.', [
  {
    '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
    reason: 'API_KEY_INVALID',
    domain: 'googleapis.com',
    metadata: { service: 'generativelanguage.googleapis.com' },
  },
  {
    '@type': 'type.googleapis.com/google.rpc.LocalizedMessage',
    locale: 'en-US',
    message: 'API key not valid. Please pass a valid API key.',
  },
]);

export function modelNotFoundBody(model: string, method: string): unknown {
  return statusBody(
    404,
    `models/${model} is not found for API version v1beta, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`,
  );
}

/** A daily quota spent: its QuotaFailure names a PerDay quota, and there is no RetryInfo worth waiting for. */
export function dailyQuotaBody(model: string, limit = 1000): unknown {
  return statusBody(
    429,
    'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.',
    [
      {
        '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
        violations: [
          {
            quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
            quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier',
            quotaDimensions: { location: 'global', model },
            quotaValue: String(limit),
          },
        ],
      },
      { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
    ],
  );
}

// Gemini sends no Retry-After header: the wait is only in the RetryInfo detail.
export function quotaBody(model: string, retryAfterSeconds: number, limit = 15): unknown {
  return statusBody(
    429,
    `You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. Please retry in ${retryAfterSeconds}s.`,
    [
      {
        '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
        violations: [
          {
            quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
            quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
            quotaDimensions: { location: 'global', model },
            quotaValue: String(limit),
          },
        ],
      },
      {
        '@type': 'type.googleapis.com/google.rpc.Help',
        links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }],
      },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` },
    ],
  );
}

export interface Usage {
  promptTokenCount: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  totalTokenCount: number;
}

/** Gemini leaves a count of zero out; thinking is counted apart from the answer, and in the total. */
export function usage(promptTokens: number, candidateTokens: number, thoughtTokens = 0): Usage {
  return {
    promptTokenCount: promptTokens,
    ...(candidateTokens > 0 ? { candidatesTokenCount: candidateTokens } : {}),
    ...(thoughtTokens > 0 ? { thoughtsTokenCount: thoughtTokens } : {}),
    totalTokenCount: promptTokens + candidateTokens + thoughtTokens,
  };
}

/** A part the model thought rather than answered (sent only with includeThoughts). */
export const thoughtPart = (text: string) => ({ text, thought: true });

/**
 * One GenerateContentResponse: a whole answer, or one streamed delta when finishReason is absent.
 * Empty text and no thoughts is a candidate with no parts, as a budget spent on thinking leaves it.
 */
export function contentResponse(model: string, text: string, finishReason?: string, tokens?: Usage, extraParts: object[] = []): unknown {
  // Thoughts come before the text, function calls after it.
  const parts = [...extraParts.filter((p) => 'thought' in p), ...(text === '' ? [] : [{ text }]), ...extraParts.filter((p) => !('thought' in p))];
  const content = parts.length > 0 ? { role: 'model', parts } : { role: 'model' };
  return {
    candidates: [{ content, ...(finishReason ? { finishReason } : {}), index: 0 }],
    ...(tokens ? { usageMetadata: tokens } : {}),
    modelVersion: model,
  };
}

/** A failure in disguise: HTTP 200 with an empty candidate list and no reason given. */
export function emptyResponse(model: string, promptTokens: number): unknown {
  return { candidates: [], usageMetadata: { promptTokenCount: promptTokens, totalTokenCount: promptTokens }, modelVersion: model };
}

/** A blocked prompt: HTTP 200, no candidates, only promptFeedback. */
export function blockedResponse(model: string, promptTokens: number): unknown {
  return {
    promptFeedback: {
      blockReason: 'SAFETY',
      safetyRatings: [
        { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'NEGLIGIBLE' },
        { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'HIGH' },
        { category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' },
        { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'NEGLIGIBLE' },
      ],
    },
    usageMetadata: { promptTokenCount: promptTokens, totalTokenCount: promptTokens },
    modelVersion: model,
  };
}

export function isEmbeddingModel(model: string): boolean {
  return model.includes('embedding');
}

export function modelResource(model: string): unknown {
  const embedding = isEmbeddingModel(model);
  return {
    name: `models/${model}`,
    version: '001',
    displayName: model,
    description: `Simulated ${model}`,
    inputTokenLimit: embedding ? 2048 : 1_048_576,
    outputTokenLimit: embedding ? 1 : 65_536,
    supportedGenerationMethods: embedding
      ? ['embedContent', 'batchEmbedContents', 'countTextTokens']
      : ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
  };
}

/** Deterministic 8-dimensional vector: the same text always embeds to the same values. */
export function embeddingValues(text: string): number[] {
  const digest = createHash('sha256').update(text).digest();
  return Array.from(digest.subarray(0, 8), (byte) => Math.round((byte / 127.5 - 1) * 10_000) / 10_000);
}
