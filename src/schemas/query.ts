// POST /query: what a caller may send and what it gets back.
import { z } from 'zod';
import { compiled } from './compiled.ts';

export const queryBodySchema = compiled(
  z
    .strictObject({
      prompt: z.string().min(1).max(4000).describe('The prompt, 1 to 4000 characters'),
      max_tokens: z.int().min(1).max(2048).default(256).describe('Upper bound on the answer length in tokens'),
      temperature: z.number().min(0).max(2).default(0.7).describe('Sampling temperature'),
    })
    .describe('QueryRequest'),
);

export const usageSchema = z.object({
  prompt_tokens: z.int().nullable(),
  completion_tokens: z.int().nullable().describe('Includes reasoning_tokens'),
  total_tokens: z.int().nullable(),
  reasoning_tokens: z.int().nullable().describe('Tokens the model spent thinking; null where the provider reported none'),
});

export const attemptSchema = z.object({
  provider: z.string(),
  outcome: z
    .string()
    .describe(
      'ok, cooling_down or quota_exhausted (skipped without a call: a cooldown, or a known quota limit reached), hedged_lost (aborted: the other call of a hedged race showed life first), or why it failed: rate_limited, timeout, unavailable, bad_response, rejected, misconfigured, ' +
        "or gateway_busy (every one of the gateway's connections to the provider was in use until the attempt's time ran out)",
    ),
  status: z.int().optional().describe('Upstream HTTP status, when there was one'),
  latency_ms: z.int(),
  hedge: z
    .enum(['first', 'second'])
    .optional()
    .describe('Set in a hedged race (HEDGE_AFTER_MS): first is the provider that was slow to start, second the one started beside it; the loser has outcome hedged_lost'),
});

export const queryResponseSchema = z
  .object({
    response: z.string().describe('The answer text'),
    provider: z.string().describe('The provider that answered'),
    model: z.string().describe('The model that answered'),
    finish_reason: z.enum(['stop', 'length', 'content_filter', 'other']),
    latency_ms: z.int().describe('Time spent in the gateway for this request'),
    request_id: z.string(),
    usage: usageSchema.describe('Token counts; null where the provider gave none'),
    attempts: z.array(attemptSchema).describe('Every provider tried, in order, with its outcome and time'),
  })
  .describe('QueryResponse');

export type QueryBody = z.output<typeof queryBodySchema>;
