// How the fake Gemini thinks, as the real models do: Gemini 3 takes a thinking level (Flash-Lite
// from minimal, Flash and Pro from low, refusing minimal), 2.5 a token budget, and a 2.x model
// refuses a level. Thinking tokens come out of maxOutputTokens, so a small limit can be spent on
// thought alone. Sources: docs/providers.md.
export interface Thinking {
  /** Tokens spent thinking before the answer. */
  tokens: number;
  /** Whether the caller asked to see the thoughts (includeThoughts). */
  include: boolean;
}

const LEVEL_TOKENS: Record<string, number> = { minimal: 0, low: 24, medium: 96, high: 384 };

/** The model's thinking for a request's thinkingConfig, or the refusal message of a config it does not take. */
export function thinkingFor(model: string, config: Record<string, unknown> | undefined): Thinking | string {
  const id = model.replace(/^models\//, '');
  const alias = /^gemini-(pro|flash|flash-lite)-latest$/.exec(id);
  const match = /^gemini-(\d+(?:\.\d+)?)-(pro|flash-lite|flash)\b/.exec(id);
  const generation = alias ? 3 : match ? Number(match[1]) : undefined;
  const tier = alias?.[1] ?? match?.[2];
  const include = config?.includeThoughts === true;
  const level = typeof config?.thinkingLevel === 'string' ? config.thinkingLevel.toLowerCase() : undefined;
  const budget = typeof config?.thinkingBudget === 'number' ? config.thinkingBudget : undefined;
  if (generation === undefined) return { tokens: 0, include: false };
  if (generation < 3) {
    if (level !== undefined) return 'Thinking level is not supported for this model.';
    if (budget === 0 && tier === 'pro') return 'Budget 0 is invalid. This model only works in thinking mode.';
    return { tokens: budget === undefined || budget < 0 ? LEVEL_TOKENS.medium! : Math.min(budget, 96), include };
  }
  if (level === 'minimal' && tier !== 'flash-lite') {
    return '* GenerateContentRequest.generation_config.thinking_config.thinking_level: THINKING_LEVEL_MINIMAL is not supported for this model.\n';
  }
  const chosen = level ?? (tier === 'flash-lite' ? 'minimal' : 'medium');
  const tokens = LEVEL_TOKENS[chosen];
  if (tokens === undefined) return `* GenerateContentRequest.generation_config.thinking_config.thinking_level: invalid value "${chosen}"\n`;
  return { tokens, include };
}

/** Gemini 3 models refuse a conversation ending with a model turn; 2.5 takes it as a prefill. */
export function refusesTrailingModelTurn(model: string): boolean {
  const id = model.replace(/^models\//, '');
  if (/^gemini-(pro|flash|flash-lite)-latest$/.test(id)) return true;
  const match = /^gemini-(\d+(?:\.\d+)?)-/.exec(id);
  return match !== null && Number(match[1]) >= 3;
}
