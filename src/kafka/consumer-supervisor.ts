import type { Consumer } from 'kafkajs';
import { Logger } from '../logging';
import { counter } from '../metrics';

/**
 * A kafkajs consumer that crashes either stays down while the process lives on (an error kafkajs
 * does not retry, such as a codec it lacks) or restarts itself in a loop and fails again on the
 * same batch (any other error once its fetch retries are spent): nothing is consumed, yet the
 * process looks healthy. So:
 * - restartOnFailure (set on every client by createKafka) lets kafkajs restart a consumer only
 *   when the root cause is a passing fault of a dependency (its `retriable` flag: a broker that is
 *   away, a rebalance, a DependencyError from a handler);
 * - every consumer role hands its consumer to superviseConsumer, which counts each crash; while
 *   kafkajs restarts a consumer the process is unready until it fetches again, and on a crash
 *   kafkajs does not restart from it stays unready (readiness.kafkaConsumers), logs the error with
 *   the group and its assignment, and exits non-zero so the orchestrator restarts it from the
 *   committed offsets.
 */

/** Between a fatal crash and the exit: the log is flushed and a readiness probe sees 503. */
export const FATAL_EXIT_DELAY_MS = 1000;

const failures = new Map<string, string>();
const restarting = new Map<string, string>();

function rootCause(err: unknown): { name?: string; message?: string; retriable?: unknown } {
  let e = err as { cause?: unknown; originalError?: unknown } | undefined;
  for (let depth = 0; e && depth < 10; depth++) {
    const next = e.cause ?? e.originalError;
    if (!next || typeof next !== 'object') break;
    e = next as typeof e;
  }
  return (e ?? {}) as { name?: string; message?: string; retriable?: unknown };
}

/** kafkajs's `retry.restartOnFailure`: restart a crashed consumer only for a passing dependency fault. */
export async function restartOnFailure(err: Error): Promise<boolean> {
  return rootCause(err).retriable === true;
}

function crashes() {
  return counter('finops_kafka_consumer_crashes_total', 'Kafka consumer crashes, by consumer group, error class and whether kafkajs restarted the consumer', ['group', 'error', 'restarted']);
}

export interface SuperviseOptions {
  groupId: string;
  log: Logger;
  /** What a crash kafkajs does not restart from does after marking the process unready; defaults to exiting with 1. */
  onFatal?: (err: Error) => void;
}

const exitForRestart = () => {
  process.exitCode = 1;
  setTimeout(() => process.exit(1), FATAL_EXIT_DELAY_MS).unref();
};

export function superviseConsumer(consumer: Consumer, o: SuperviseOptions): void {
  let assignment: Record<string, number[]> = {};
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => (assignment = payload.memberAssignment));
  consumer.on(consumer.events.FETCH, () => restarting.delete(o.groupId));
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    const err = payload.error;
    const cause = rootCause(err);
    crashes().inc({ group: o.groupId, error: cause.name || 'Error', restarted: String(payload.restart) });
    if (payload.restart) {
      restarting.set(o.groupId, `restarting after ${cause.name}: ${cause.message}`);
      o.log.warn({ err, group: o.groupId }, 'Kafka consumer crashed on a passing fault; kafkajs restarts it, and the process is unready until it fetches again');
      return;
    }
    restarting.delete(o.groupId);
    failures.set(o.groupId, `${cause.name}: ${cause.message}`);
    o.log.fatal(
      { err, group: o.groupId, assignment, exitInMs: FATAL_EXIT_DELAY_MS },
      'Kafka consumer crashed on an error it does not retry; the process is unready and exits so that it restarts from the committed offsets',
    );
    (o.onFatal ?? exitForRestart)(err);
  });
}

/** Consumer groups of this process whose consumer has stopped, or is restarting and not fetching yet, with the error. */
export function failedConsumers(): [string, string][] {
  return [...failures, ...restarting];
}
