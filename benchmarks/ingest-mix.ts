import { randomUUID } from 'node:crypto';
import type { CostTracker } from '../producers';

export const MIX_PERSONAS = 1000;
export const MIX_POSTS = 100_000;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-4', 'gpt-3.5-turbo-0125'];

// Made once, so that what the benchmarks measure of a call is the SDK's work, not the caller's
// strings: the ids a real caller passes already exist when it calls.
const RUN = randomUUID().slice(0, 8);
const PERSONA_IDS = Array.from({ length: MIX_PERSONAS }, (_, i) => `persona-${i}`);
const POST_IDS = Array.from({ length: MIX_POSTS }, (_, i) => `post-${i}`);
const CORRELATION_IDS = Array.from({ length: MIX_POSTS }, (_, i) => `c-${i}`);
const REQUEST_IDS = Array.from({ length: MIX_POSTS }, (_, i) => `${RUN}-${i}`);

/** The ingest benchmarks' traffic, event i of it: half LLM calls, a quarter compute, a quarter vector queries. */
export function trackMixedCost(tracker: CostTracker, i: number, operation: string) {
  const personaId = PERSONA_IDS[i % MIX_PERSONAS];
  const postId = POST_IDS[i % MIX_POSTS];
  const correlationId = CORRELATION_IDS[i % MIX_POSTS];
  const requestId = REQUEST_IDS[i % MIX_POSTS];
  switch (i % 4) {
    case 0:
    case 1:
      return tracker.trackOpenAICost({ personaId, postId, operation, service: 'bench', correlationId, requestId, model: MODELS[i % MODELS.length], inputTokens: 500 + (i % 3000), outputTokens: 100 + (i % 900) });
    case 2:
      return tracker.trackInfrastructureCost({ personaId, postId, operation, service: 'bench', correlationId, requestId, cpuCores: '0.5', memoryGb: '1.25', durationMs: 1000 + (i % 60_000) });
    default:
      return tracker.trackVectorDbCost({ personaId, postId, operation, service: 'bench', correlationId, requestId, vectorOperation: 'query', units: 1 + (i % 50) });
  }
}
