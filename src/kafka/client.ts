import './linear-grouping';
import { Kafka, logLevel, LogEntry, RetryOptions } from 'kafkajs';
import { intSetting, listSetting, Overrides, setting, topics as topicNames } from '../config';
import { logger } from '../logging';
import { sleep } from '../retry';
import { kafkaSecurity } from './security';
import './codecs';
import { restartOnFailure } from './consumer-supervisor';

const kafkaLog = logger('kafkajs');

function toPino() {
  return ({ level, log }: LogEntry) => {
    const { message, ...extra } = log;
    if (level === logLevel.ERROR) kafkaLog.error(extra, message);
    else if (level === logLevel.WARN) kafkaLog.warn(extra, message);
    else if (level === logLevel.INFO) kafkaLog.debug(extra, message);
  };
}

const DEFAULT_RETRY: RetryOptions = { initialRetryTime: 100, retries: 8 };

/**
 * The SDK's client: reconnect attempts back off to at most a second, so a producer resumes
 * within about a second of the broker coming back. (The SDK's producer itself retries without
 * bound, the idempotent producer's default; its delivery deadline is the SDK's own.)
 */
export const SDK_RETRY: RetryOptions = { initialRetryTime: 100, maxRetryTime: 1000, retries: 8 };

export function createKafka(overrides: Overrides = {}, clientIdSuffix?: string, retry: RetryOptions = DEFAULT_RETRY): Kafka {
  const clientId = setting('KAFKA_CLIENT_ID', overrides) + (clientIdSuffix ? `-${clientIdSuffix}` : '');
  return new Kafka({
    clientId,
    brokers: listSetting('KAFKA_BROKERS', overrides),
    logLevel: logLevel.WARN,
    logCreator: () => toPino(),
    retry: { restartOnFailure, ...retry },
    connectionTimeout: 3000,
    ...kafkaSecurity(overrides),
  });
}

export interface TopicSpec {
  topic: string;
  numPartitions?: number;
  compacted?: boolean;
  configEntries?: { name: string; value: string }[];
}

/** Creates the topics that do not exist yet; existing topics are left as they are. */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[], overrides: Overrides = {}): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: false, // waitForTopicLeaders below also outlasts a broker that does not know the topic yet
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.numPartitions ?? intSetting('TOPIC_PARTITIONS', overrides, { min: 1 }),
        replicationFactor: intSetting('TOPIC_REPLICATION_FACTOR', overrides, { min: 1 }),
        configEntries: [
          ...(s.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
          ...(s.configEntries ?? []),
        ],
      })),
    });
    await waitForTopicLeaders(admin, missing.map((s) => s.topic));
  } finally {
    await admin.disconnect();
  }
}

/** Metadata errors a topic created a moment ago may still answer with. */
const NOT_YET_PROPAGATED = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Waits until every partition of `topics` has a leader. Right after CreateTopics a KRaft broker can
 * answer metadata with UNKNOWN_TOPIC_OR_PARTITION for a moment, which kafkajs's own wait
 * (waitForLeaders) does not retry.
 */
export async function waitForTopicLeaders(admin: Pick<ReturnType<Kafka['admin']>, 'fetchTopicMetadata'>, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics });
      if (found.length === topics.length && found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      const e = err as { type?: string; originalError?: { type?: string } };
      if (!NOT_YET_PROPAGATED.has(e.type ?? e.originalError?.type ?? '')) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leader for every partition after ${timeoutMs} ms; is the broker healthy?`);
    await sleep(100);
  }
}

/** The pipeline's own topics with their settings. */
export function pipelineTopicSpecs(overrides: Overrides = {}): TopicSpec[] {
  const t = topicNames(overrides);
  return [
    { topic: t.costEvents },
    { topic: t.postOutcomes },
    { topic: t.costAnomalies },
    { topic: t.costControls, compacted: true },
    { topic: t.deadLetter, configEntries: [{ name: 'retention.ms', value: String(30 * 24 * 3600 * 1000) }] },
  ];
}
