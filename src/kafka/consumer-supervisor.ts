import type { Consumer } from 'kafkajs';
import { Logger } from '../logging';
import { counter } from '../metrics';

/**
 * A kafkajs consumer that crashes on an error it does not retry (a batch it cannot decode, a
 * codec it lacks, a bug in a handler) disconnects and stays down while the process lives on:
 * nothing is consumed, yet the process looks healthy. Every consumer role hands its consumer to
 * superviseConsumer, which counts each crash, and on one kafkajs will not restart from marks the
 * process unready (readiness.kafkaConsumers), logs the error with the group, its assignment and
 * what kafkajs said, and exits non-zero so the orchestrator restarts it from the committed offsets.
 */

/** Between a fatal crash and the exit: the log is flushed and a readiness probe sees 503. */
export const FATAL_EXIT_DELAY_MS = 1000;

const failures = new Map<string, string>();

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
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    const err = payload.error;
    const cause = (err as Error & { originalError?: Error }).originalError ?? err;
    crashes().inc({ group: o.groupId, error: cause.name || 'Error', restarted: String(payload.restart) });
    if (payload.restart) {
      o.log.warn({ err, group: o.groupId }, 'Kafka consumer crashed; kafkajs restarts it');
      return;
    }
    failures.set(o.groupId, `${cause.name}: ${cause.message}`);
    o.log.fatal(
      { err, group: o.groupId, assignment, exitInMs: FATAL_EXIT_DELAY_MS },
      'Kafka consumer crashed on an error it does not retry; the process is unready and exits so that it restarts from the committed offsets',
    );
    (o.onFatal ?? exitForRestart)(err);
  });
}

/** Consumer groups of this process whose consumer has stopped for good, with the error. */
export function failedConsumers(): [string, string][] {
  return [...failures];
}
