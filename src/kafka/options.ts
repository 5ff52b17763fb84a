import { ConsumerConfig, Partitioners, ProducerConfig } from 'kafkajs';
import { intSetting, Overrides } from '../config';

/**
 * The pipeline's producers: idempotent (a retried send is written once, in order), so one
 * request in flight; topics are created by `setup`, never by a send; keys are partitioned with
 * Java's murmur2, as every other Kafka client does. `extra` adds or overrides options.
 */
export function producerOptions(extra: ProducerConfig = {}): ProducerConfig {
  return { idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner, ...extra };
}

/**
 * The one heartbeat rule for every consumer group: a tenth of the session timeout (at least
 * 500 ms), so a live member misses about ten heartbeats before the broker gives up on it.
 */
export function heartbeatIntervalFor(sessionTimeoutMs: number): number {
  return Math.max(500, Math.floor(sessionTimeoutMs / 10));
}

/** KAFKA_SESSION_TIMEOUT_MS: how long a group waits for a silent member before it reassigns its partitions. */
export function sessionTimeoutMs(overrides: Overrides = {}): number {
  return intSetting('KAFKA_SESSION_TIMEOUT_MS', overrides, { min: 6000, max: 300_000 });
}

/** KAFKA_SESSION_TIMEOUT_MS and its heartbeat, as kafkajs consumer options. */
export function kafkaGroupTimings(overrides: Overrides = {}): { sessionTimeout: number; heartbeatInterval: number } {
  const sessionTimeout = sessionTimeoutMs(overrides);
  return { sessionTimeout, heartbeatInterval: heartbeatIntervalFor(sessionTimeout) };
}

export interface GroupConsumerOptions extends Omit<ConsumerConfig, 'sessionTimeout' | 'heartbeatInterval'> {
  /** The group's session timeout (sessionTimeoutMs(overrides) for a role); the heartbeat follows from it. */
  sessionTimeoutMs: number;
}

/**
 * A role's consumer: fetches return after at most 50 ms (latency over batch size), and the
 * session timeout and heartbeat follow KAFKA_SESSION_TIMEOUT_MS. `extra` options override.
 */
export function consumerOptions({ sessionTimeoutMs: session, ...extra }: GroupConsumerOptions): ConsumerConfig {
  return { maxWaitTimeInMs: 50, ...extra, sessionTimeout: session, heartbeatInterval: heartbeatIntervalFor(session) };
}
