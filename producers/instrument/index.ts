import { CostContext } from './context';
import { defaultCostGuard, defaultCostTracker } from './defaults';
import { ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_EMBEDDINGS, OPENAI_RESPONSES } from './endpoints';
import { proxyClient, ResourceTree } from './client-proxy';
import { InstrumentOptions, Runtime } from './instrumented-call';

export { withCostContext, currentCostContext } from './context';
export type { CostContext } from './context';
export { closeDefaultCostInstruments, defaultCostGuard, defaultCostTracker } from './defaults';
export type { InstrumentOptions } from './instrumented-call';

type Create = { create: (...args: never[]) => unknown };
/** The parts of the official `openai` client that are instrumented. */
export interface OpenAILike {
  chat: { completions: Create };
  responses: Create;
  embeddings: Create;
}
/** The part of the official `@anthropic-ai/sdk` client that is instrumented. */
export interface AnthropicLike {
  messages: Create;
}

const OPENAI_TREE: ResourceTree = { chat: { completions: OPENAI_CHAT }, responses: OPENAI_RESPONSES, embeddings: OPENAI_EMBEDDINGS };
const ANTHROPIC_TREE: ResourceTree = { messages: ANTHROPIC_MESSAGES };

const isAnthropic = (client: object): boolean => typeof (client as Partial<AnthropicLike>).messages?.create === 'function';
const isOpenAI = (client: object): boolean => typeof (client as Partial<OpenAILike>).chat?.completions?.create === 'function';

/**
 * Wraps an `openai` or `@anthropic-ai/sdk` client so every chat completion, response, embedding
 * and message it creates asks the CostGuard first and has its cost tracked after, attributed to
 * the options' persona and post or those of the enclosing withCostContext():
 *
 *   const openai = instrument(new OpenAI(), { personaId: 'persona-42' });
 *
 * The result is the same client to the compiler and at run time (a Proxy over it); see
 * docs/instrument.md for streams, cache tokens, the guard and which failures are tracked.
 */
export function instrument<T extends OpenAILike | AnthropicLike>(client: T, options: InstrumentOptions = {}): T {
  const anthropic = isAnthropic(client);
  if (!anthropic && !isOpenAI(client)) throw new TypeError('instrument() takes an openai or @anthropic-ai/sdk client');
  const { tracker, guard } = options;
  const defaults: CostContext = {
    personaId: options.personaId, postId: options.postId, operation: options.operation,
    service: options.service, correlationId: options.correlationId, metadata: options.metadata,
  };
  const rt: Runtime = {
    provider: options.provider ?? (anthropic ? 'anthropic' : 'openai'),
    defaults,
    options,
    tracker: tracker ? () => tracker : defaultCostTracker,
    guard: guard === false ? () => undefined : guard ? () => guard : defaultCostGuard,
  };
  return proxyClient(client, anthropic ? ANTHROPIC_TREE : OPENAI_TREE, rt, (c) => instrument(c, options));
}
