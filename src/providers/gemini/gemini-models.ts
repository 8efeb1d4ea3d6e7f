// What a Gemini model id says about the model: its generation and tier, which decide how it is told
// how hard to think and which requests it refuses. Sources and dates: docs/providers.md.
import type { ReasoningSetting } from '../registry.ts';

export interface GeminiModelTraits {
  /** 3 for Gemini 3.x and the "-latest" aliases (they point at 3.x models), 2.5, 2, or undefined (tuned models, Gemma, unknown). */
  generation: number | undefined;
  tier: 'pro' | 'flash' | 'flash-lite' | undefined;
}

export function geminiTraits(modelId: string): GeminiModelTraits {
  const id = modelId.replace(/^models\//, '');
  const alias = /^gemini-(pro|flash|flash-lite)-latest$/.exec(id);
  if (alias) return { generation: 3, tier: alias[1] as GeminiModelTraits['tier'] };
  const match = /^gemini-(\d+(?:\.\d+)?)-(pro|flash-lite|flash)\b/.exec(id);
  if (!match) return { generation: undefined, tier: undefined };
  return { generation: Number(match[1]), tier: match[2] as GeminiModelTraits['tier'] };
}

export type ThinkingConfig = { thinkingLevel: 'minimal' | 'low' | 'medium' | 'high' } | { thinkingBudget: number };

/**
 * The thinkingConfig for a model and effort, or undefined to leave the model's default. Gemini 3
 * takes a level (Flash-Lite accepts minimal; Flash and Pro refuse it, low is their least); 2.5 takes
 * a budget of tokens (Flash and Flash-Lite can turn thinking off with 0; Pro needs at least 128).
 * A 2.x model refuses a level, and a model of no known generation gets nothing.
 */
export function thinkingConfig(modelId: string, effort: ReasoningSetting): ThinkingConfig | undefined {
  if (effort === 'default') return undefined;
  const { generation, tier } = geminiTraits(modelId);
  if (generation === undefined) return undefined;
  if (generation >= 3) {
    if (effort === 'none' || effort === 'minimal') return { thinkingLevel: tier === 'flash-lite' ? 'minimal' : 'low' };
    return { thinkingLevel: effort };
  }
  if (generation >= 2.5) {
    const least = tier === 'pro' ? 128 : 0;
    const budgets = { none: least, minimal: least, low: 1024, medium: 8192, high: 24_576 };
    return { thinkingBudget: budgets[effort] };
  }
  return undefined;
}

/** Gemini 3 models refuse a conversation that ends with a model turn ("Requests ending with a model turn are not supported."). */
export const refusesTrailingModelTurn = (modelId: string): boolean => (geminiTraits(modelId).generation ?? 0) >= 3;
