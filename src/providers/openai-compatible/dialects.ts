// What differs between the providers that speak OpenAI's Chat Completions: the field that carries
// the token limit, and how a model is told how hard to reason. Sources and dates:
// docs/providers.md.
import type { ReasoningSetting } from '../registry.ts';

export interface ChatDialect {
  /** Groq marks max_tokens deprecated; Ollama reads max_tokens only. */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
  /** The body fields that set the model's reasoning, for this model and effort ("default": none). */
  reasoning(model: string, effort: ReasoningSetting): Record<string, unknown> | undefined;
  /** The provider's name, for a refusal before any call. */
  name?: string;
  /** False when the model cannot honour a json_schema response_format (undefined: assume it can). */
  honoursSchema?(model: string): boolean;
  /** Fields added to a request that has tools or a response_format. */
  toolExtras?: Record<string, unknown>;
}

/** Any OpenAI-compatible server (Ollama, llama-server, vLLM): OpenAI's own field, when asked for. */
export const GENERIC_DIALECT: ChatDialect = {
  maxTokensField: 'max_tokens',
  // Ollama accepts high, medium, low and none, and refuses anything else.
  reasoning: (_model, effort) => (effort === 'default' ? undefined : { reasoning_effort: effort === 'minimal' ? 'low' : effort }),
};

/** Groq models that honour response_format json_schema (its structured-outputs page; README, "Tool calling and structured output"). */
export const GROQ_SCHEMA_MODELS = ['openai/gpt-oss-', 'moonshotai/kimi-k2', 'meta-llama/llama-4-'];

/**
 * Groq: gpt-oss takes low, medium or high (medium by default; not none), and include_reasoning
 * false keeps its reasoning out of the answer (reasoning_format is not supported on gpt-oss);
 * Qwen 3 takes none or default. Other models (no reasoning) get no field: they refuse them.
 */
export const GROQ_DIALECT: ChatDialect = {
  maxTokensField: 'max_completion_tokens',
  name: 'groq',
  // Groq's structured-outputs page lists the models that take json_schema; the others take
  // json_object only, so a schema goes to the next provider rather than be ignored.
  honoursSchema: (model) => GROQ_SCHEMA_MODELS.some((prefix) => model.startsWith(prefix)),
  reasoning(model, effort) {
    if (effort === 'default') return undefined;
    if (model.startsWith('openai/gpt-oss')) {
      return { reasoning_effort: effort === 'none' || effort === 'minimal' ? 'low' : effort, include_reasoning: false };
    }
    if (model.startsWith('qwen/qwen3')) return { reasoning_effort: effort === 'none' || effort === 'minimal' ? 'none' : 'default' };
    return undefined;
  },
};

/**
 * OpenRouter: one `reasoning` object for every model behind it (it maps the effort to each
 * provider's control, and drops it where a model has none); exclude keeps the reasoning out of the
 * answer. `none` is refused by models whose reasoning is mandatory, which openrouter/free may pick.
 */
export const OPENROUTER_DIALECT: ChatDialect = {
  maxTokensField: 'max_tokens',
  name: 'openrouter',
  // Only route to upstream providers that support every parameter sent (tools, response_format):
  // without it OpenRouter may pick one that silently drops them.
  toolExtras: { provider: { require_parameters: true } },
  reasoning: (_model, effort) => (effort === 'default' ? undefined : { reasoning: { effort: effort === 'none' ? 'minimal' : effort, exclude: true } }),
};
