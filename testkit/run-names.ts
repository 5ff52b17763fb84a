import type { SettingName } from '../src/config';

type RunName = Exclude<Extract<SettingName, `TOPIC_${string}` | `${string}_GROUP_ID`>, "TOPIC_PARTITIONS" | "TOPIC_REPLICATION_FACTOR">;

/**
 * Topic and consumer-group names of one run of its own (`<prefix>.<id>.cost-events`, …,
 * `<prefix>.<id>.storage`), so a test, a benchmark or the demo never sees another run's messages
 * or joins another run's groups. Spread it first and add what else the run needs.
 */
export function runNames(prefix: string, id: string): Record<RunName, string> {
  const base = prefix ? `${prefix}.${id}` : id;
  return {
    TOPIC_COST_EVENTS: `${base}.cost-events`,
    TOPIC_POST_OUTCOMES: `${base}.post-outcomes`,
    TOPIC_COST_ANOMALIES: `${base}.cost-anomalies`,
    TOPIC_COST_CONTROLS: `${base}.cost-controls`,
    TOPIC_DEAD_LETTER: `${base}.dead-letter`,
    STORAGE_GROUP_ID: `${base}.storage`,
    ANOMALY_GROUP_ID: `${base}.anomaly`,
    ALERT_GROUP_ID: `${base}.alerts`,
    BREAKER_GROUP_ID: `${base}.breaker`,
  };
}
