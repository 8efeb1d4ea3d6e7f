// SIMULATED_FAULTS: make a simulated provider misbehave, to watch the cascade fall back.
// Syntax: "gemini=down,groq=slow". Each name is a fault plan for that provider.
import { ConfigError } from '../config.ts';
import type { Fault } from './fake-server.ts';

const PLANS: Record<string, Fault> = {
  ok: { kind: 'ok' },
  down: { kind: 'error', status: 503 },
  error: { kind: 'error', status: 500 },
  slow: { kind: 'ok', delayMs: 1000 },
  hang: { kind: 'hang' },
  reset: { kind: 'reset' },
  ratelimited: { kind: 'rate_limited', retryAfterSeconds: 30 },
  dailylimit: { kind: 'daily_limit' },
  unauthorized: { kind: 'unauthorized' },
  malformed: { kind: 'malformed' },
  blocked: { kind: 'blocked' },
  empty: { kind: 'bad_response' },
  trickle: { kind: 'trickle', delayMs: 150 },
  malformedevent: { kind: 'malformed_event', afterChunks: 2 },
  contentpolicy: { kind: 'content_policy' },
  stall: { kind: 'stream_stall', afterChunks: 2 },
};

export const FAULT_NAMES = Object.keys(PLANS);

/** The fault for each provider `spec` names; `providers` are the names it may use. */
export function parseFaultSpec(spec: string, providers: readonly string[]): Partial<Record<string, Fault>> {
  const plan: Partial<Record<string, Fault>> = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, fault] = part.split('=').map((p) => p.trim().toLowerCase());
    if (!name || !providers.includes(name)) {
      throw new ConfigError(`Invalid configuration: SIMULATED_FAULTS names an unknown provider in "${part}" (use ${providers.join(', ')})`);
    }
    const chosen = fault === undefined ? undefined : PLANS[fault.replace(/[_-]/g, '')];
    if (!chosen) {
      throw new ConfigError(`Invalid configuration: SIMULATED_FAULTS has an unknown fault in "${part}" (use ${FAULT_NAMES.join(', ')})`);
    }
    plan[name] = chosen;
  }
  return plan;
}

/** Whether a provider under this fault still answers (late or slowly), so the cascade stops there. */
export const stillAnswers = (fault: Fault | undefined): boolean => fault === undefined || fault.kind === 'ok' || fault.kind === 'trickle';
