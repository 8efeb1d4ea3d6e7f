// SIMULATED_FAULTS: make a simulated provider misbehave, to watch the cascade fall back.
// Syntax: "gemini=down,groq=slow". Each name is a fault plan for that provider.
import { ConfigError, PROVIDER_NAMES, type ProviderName } from '../config.ts';
import type { Fault } from './fake-server.ts';

const PLANS: Record<string, Fault> = {
  ok: { kind: 'ok' },
  down: { kind: 'error', status: 503 },
  error: { kind: 'error', status: 500 },
  slow: { kind: 'ok', delayMs: 1000 },
  hang: { kind: 'hang' },
  reset: { kind: 'reset' },
  ratelimited: { kind: 'rate_limited', retryAfterSeconds: 30 },
  unauthorized: { kind: 'unauthorized' },
  malformed: { kind: 'malformed' },
  blocked: { kind: 'blocked' },
  empty: { kind: 'bad_response' },
  trickle: { kind: 'trickle', delayMs: 150 },
};

export const FAULT_NAMES = Object.keys(PLANS);

export function parseFaultSpec(spec: string): Partial<Record<ProviderName, Fault>> {
  const plan: Partial<Record<ProviderName, Fault>> = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, fault] = part.split('=').map((p) => p.trim().toLowerCase());
    if (!name || !(PROVIDER_NAMES as readonly string[]).includes(name)) {
      throw new ConfigError(`Invalid configuration: SIMULATED_FAULTS names an unknown provider in "${part}" (use ${PROVIDER_NAMES.join(', ')})`);
    }
    const chosen = fault === undefined ? undefined : PLANS[fault.replace(/[_-]/g, '')];
    if (!chosen) {
      throw new ConfigError(`Invalid configuration: SIMULATED_FAULTS has an unknown fault in "${part}" (use ${FAULT_NAMES.join(', ')})`);
    }
    plan[name as ProviderName] = chosen;
  }
  return plan;
}

/** Whether a provider under this fault still answers (late or slowly), so the cascade stops there. */
export const stillAnswers = (fault: Fault | undefined): boolean => fault === undefined || fault.kind === 'ok' || fault.kind === 'trickle';
