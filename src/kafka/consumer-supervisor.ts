import type { Consumer } from 'kafkajs';
import { Logger } from '../logging';
import { counter } from '../metrics';

/**
 * A kafkajs consumer that crashes either stays down while the process lives on (an error kafkajs
 * does not retry, such as a codec it lacks) or restarts itself and may fail again on the same
 * batch forever (any other error once its retries are spent): nothing is consumed, yet the
 * process looks healthy. So:
 * - restartOnFailure (set on every client by createKafka) refuses a restart when the root cause
 *   says it is not retriable (a FinOpsError or kafkajs error with `retriable: false`, such as an
 *   UnreadableBatchError); a passing fault (`retriable: true`: a broker away, a DependencyError)
 *   or an error that does not say (a driver's error, a bug) is restarted as kafkajs does;
 * - every consumer role hands its consumer to superviseConsumer, which counts each crash. While
 *   kafkajs restarts a consumer the process is unready until the consumer fetches again. A crash
 *   kafkajs does not restart from, or MAX_RESTARTS_WITHOUT_FETCH restarts in a row after errors
 *   that are not passing faults with no successful fetch between them, leave the process unready
 *   (readiness.kafkaConsumers); the error is logged with the group and its assignment, and the
 *   process exits non-zero so the orchestrator restarts it from the committed offsets.
 */

/** Restarts in a row after errors that are not passing faults, without a fetch between them, before the process gives up. */
export const MAX_RESTARTS_WITHOUT_FETCH = 3;

/** Between a fatal crash and the exit: the log is flushed and a readiness probe sees 503. */
export const FATAL_EXIT_DELAY_MS = 1000;

const failures = new Map<string, string>();
const restarting = new Map<string, string>();

type ErrorLike = { name?: string; message?: string; retriable?: unknown; cause?: unknown; originalError?: unknown };

/** kafkajs's wrappers around the error that made it give up; they say nothing about that error. */
const WRAPPERS = new Set(['KafkaJSNumberOfRetriesExceeded', 'KafkaJSNonRetriableError']);

/**
 * The error behind a crash (the end of the cause chain) and whether it is retriable: the flag of
 * the deepest error in the chain that has one, kafkajs's wrappers aside; undefined if none says.
 */
export function crashCause(err: unknown): { error: ErrorLike; retriable: boolean | undefined } {
  let e = err as ErrorLike | undefined;
  let retriable: boolean | undefined;
  for (let depth = 0; e && depth < 10; depth++) {
    if (typeof e.retriable === 'boolean' && !WRAPPERS.has(e.name ?? '')) retriable = e.retriable;
    const next = e.cause ?? e.originalError;
    if (!next || typeof next !== 'object') break;
    e = next as ErrorLike;
  }
  return { error: e ?? {}, retriable };
}

/** kafkajs's `retry.restartOnFailure`: no restart when the root cause says it is not retriable. */
export async function restartOnFailure(err: Error): Promise<boolean> {
  return crashCause(err).retriable !== false;
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
  let restartsWithoutFetch = 0;
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => (assignment = payload.memberAssignment));
  consumer.on(consumer.events.FETCH, () => {
    restartsWithoutFetch = 0;
    restarting.delete(o.groupId);
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    const err = payload.error;
    const { error: cause, retriable } = crashCause(err);
    crashes().inc({ group: o.groupId, error: cause.name || 'Error', restarted: String(payload.restart) });
    if (payload.restart && retriable !== true) restartsWithoutFetch++;
    if (payload.restart && restartsWithoutFetch < MAX_RESTARTS_WITHOUT_FETCH) {
      restarting.set(o.groupId, `restarting after ${cause.name}: ${cause.message}`);
      o.log.warn({ err, group: o.groupId, restartsWithoutFetch }, 'Kafka consumer crashed; kafkajs restarts it, and the process is unready until it fetches again');
      return;
    }
    restarting.delete(o.groupId);
    failures.set(o.groupId, `${cause.name}: ${cause.message}`);
    o.log.fatal(
      { err, group: o.groupId, assignment, restartsWithoutFetch, exitInMs: FATAL_EXIT_DELAY_MS },
      payload.restart
        ? `Kafka consumer crashed ${restartsWithoutFetch} times in a row without fetching; the process is unready and exits so that it restarts from the committed offsets`
        : 'Kafka consumer crashed on an error it does not retry; the process is unready and exits so that it restarts from the committed offsets',
    );
    (o.onFatal ?? exitForRestart)(err);
  });
}

/** Consumer groups of this process whose consumer has stopped, or is restarting and not fetching yet, with the error. */
export function failedConsumers(): [string, string][] {
  return [...failures, ...restarting];
}
