import './linear-grouping';
import { Kafka, logLevel, LogEntry, RetryOptions } from 'kafkajs';
import { intSetting, listSetting, Overrides, setting, topics as topicNames } from '../config';
import { logger } from '../logging';
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
      waitForLeaders: true,
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
  } finally {
    await admin.disconnect();
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
