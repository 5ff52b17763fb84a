import { AsyncLocalStorage } from 'node:async_hooks';

/** Who a model call is attributed to. Instrument options give defaults; a context overrides them. */
export interface CostContext {
  personaId?: string;
  postId?: string;
  operation?: string;
  service?: string;
  correlationId?: string;
  metadata?: Record<string, string>;
}

const storage = new AsyncLocalStorage<CostContext>();

/**
 * Runs `fn` with a cost context: every instrumented call made inside it (awaited or not, however
 * deep) is attributed to it. Nested contexts add to the outer one; their metadata is merged.
 */
export function withCostContext<R>(context: CostContext, fn: () => R): R {
  const outer = storage.getStore();
  return storage.run(outer ? merge(outer, context) : context, fn);
}

/** The cost context in force here, if any. */
export function currentCostContext(): CostContext | undefined {
  return storage.getStore();
}

/** `over` wins field by field; metadata is merged key by key. */
export function merge(base: CostContext, over: CostContext | undefined): CostContext {
  if (!over) return base;
  const merged: CostContext = { ...base };
  for (const key of ['personaId', 'postId', 'operation', 'service', 'correlationId'] as const) {
    if (over[key] !== undefined) merged[key] = over[key];
  }
  if (over.metadata) merged.metadata = { ...base.metadata, ...over.metadata };
  return merged;
}
