import '../src/kafka/linear-grouping';
export { CostTracker } from './cost-tracker';
export type { Attribution, OpenAICost, InfrastructureCost, VectorDbCost, Outcome, TrackedCost, CostTrackerOptions } from './cost-tracker';
export { BatchingProducer } from './batching-producer';
export { FinOpsError, InvalidInputError, UnknownModelError, DependencyError, ProducerClosedError, DeliveryTimeoutError } from '../src/errors';
export * from './cost-guard';
export { instrument, withCostContext, currentCostContext, closeDefaultCostInstruments, defaultCostGuard, defaultCostTracker } from './instrument';
export type { InstrumentOptions, CostContext, OpenAILike, AnthropicLike } from './instrument';
