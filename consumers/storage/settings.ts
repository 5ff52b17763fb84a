import { durationSetting, intSetting, Overrides, setting } from '../../src/config';
import { sessionTimeoutMs } from '../../src/kafka/options';

export interface StorageSettings {
  groupId: string;
  batchMaxEvents: number;
  batchMaxWaitMs: number;
  sessionTimeoutMs: number;
  /** Bounds on what one fetch brings into memory (kafkajs maxBytes and maxBytesPerPartition). */
  fetchMaxBytes: number;
  fetchMaxBytesPerPartition: number;
  /** Storage transactions in flight at once, each on its own connection. */
  flushConcurrency: number;
  partitions: { monthsAhead: number; monthsBack: number; retentionMonths: number };
}

/** The storage consumer's settings: explicit → environment → default (src/config/defaults.ts). */
export function storageSettings(overrides: Overrides = {}): StorageSettings {
  return {
    groupId: setting('STORAGE_GROUP_ID', overrides),
    batchMaxEvents: intSetting('STORAGE_BATCH_MAX_EVENTS', overrides, { min: 1 }),
    batchMaxWaitMs: durationSetting('STORAGE_BATCH_MAX_WAIT_MS', 'ms', overrides),
    sessionTimeoutMs: sessionTimeoutMs(overrides),
    fetchMaxBytes: intSetting('STORAGE_FETCH_MAX_BYTES', overrides, { min: 1024 }),
    fetchMaxBytesPerPartition: intSetting('STORAGE_FETCH_MAX_BYTES_PER_PARTITION', overrides, { min: 1024 }),
    flushConcurrency: intSetting('STORAGE_FLUSH_CONCURRENCY', overrides, { min: 1, max: 16 }),
    partitions: {
      monthsAhead: intSetting('STORAGE_PARTITIONS_AHEAD_MONTHS', overrides),
      // Partitions reach back far enough for the oldest event time accepted.
      monthsBack: Math.ceil(intSetting('STORAGE_MAX_PAST_AGE_DAYS', overrides) / 28),
      retentionMonths: intSetting('STORAGE_RETENTION_MONTHS', overrides),
    },
  };
}
