import { Admin, Kafka } from 'kafkajs';
import { defaults, intSetting, listSetting, Overrides, setting, SettingName } from '../config';
import { Logger, logger } from '../logging';
import { counter, gauge } from './index';

export function lagMetrics() {
  const m = {
    lag: gauge('finops_consumer_lag_messages', 'Messages not yet committed by a consumer group: partition high watermark minus the group committed offset.', ['group', 'topic', 'partition']),
    committed: gauge('finops_consumer_committed_offset', 'Offset the consumer group last committed, per partition.', ['group', 'topic', 'partition']),
    collections: counter('finops_lag_collector_runs_total', 'Lag collection rounds, by outcome (ok, error).', ['outcome']),
  };
  for (const outcome of ['ok', 'error']) m.collections.inc({ outcome }, 0);
  return m;
}

/**
 * The consumer groups of the given roles, from their `<ROLE>_GROUP_ID` (or `<ROLE minus trailing s>_GROUP_ID`)
 * settings, plus any listed in LAG_COLLECTOR_GROUPS.
 */
export function consumerGroupsOf(roles: string[], overrides: Overrides = {}): string[] {
  const groups = new Set<string>(listSetting('LAG_COLLECTOR_GROUPS', overrides));
  const keys = Object.keys(defaults) as SettingName[];
  for (const role of roles) {
    const base = role.toUpperCase().replace(/[^A-Z0-9]/g, '_');
    const candidates = [`${base}_GROUP_ID`, `${base.replace(/S$/, '')}_GROUP_ID`, `${base}S_GROUP_ID`];
    const key = keys.find((k) => candidates.includes(k));
    if (key) groups.add(setting(key, overrides));
  }
  return [...groups];
}

/**
 * Exports per-partition consumer lag for a set of consumer groups: every interval it asks Kafka for
 * each group's committed offsets (admin.fetchOffsets, all topics the group has committed) and each of
 * those topics' high watermarks (admin.fetchTopicOffsets). A partition the group has never committed
 * counts its whole retained range (high − low) as lag. Partitions that disappear are removed.
 *
 * Every process running a consumer role reports its groups, so replicas report identical series that
 * differ only in `instance`: dashboards and rules take `max without (instance, pod)`.
 */
export class LagCollector {
  private readonly m = lagMetrics();
  private admin: Admin | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly exported = new Map<string, Set<string>>();
  private readonly log: Logger = logger('lag-collector');

  constructor(private readonly kafka: Kafka, private readonly groups: string[], private readonly intervalMs: number) {}

  static fromSettings(kafka: Kafka, roles: string[], overrides: Overrides = {}): LagCollector {
    return new LagCollector(kafka, consumerGroupsOf(roles, overrides), intSetting('LAG_COLLECTOR_INTERVAL_MS', overrides, { min: 100 }));
  }

  async start(): Promise<void> {
    if (this.groups.length === 0 || this.timer) return;
    this.admin = this.kafka.admin();
    await this.admin.connect();
    await this.collectOnce();
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.collectOnce().finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.admin?.disconnect();
    this.admin = undefined;
  }

  async collectOnce(): Promise<void> {
    if (!this.admin) return;
    try {
      const watermarks = new Map<string, Map<number, { high: bigint; low: bigint }>>();
      for (const group of this.groups) {
        const seen = new Set<string>();
        const committed = await this.admin.fetchOffsets({ groupId: group });
        for (const { topic, partitions } of committed) {
          if (!watermarks.has(topic)) {
            const offsets = await this.admin.fetchTopicOffsets(topic);
            watermarks.set(topic, new Map(offsets.map((o) => [o.partition, { high: BigInt(o.high), low: BigInt(o.low) }])));
          }
          const marks = watermarks.get(topic)!;
          for (const p of partitions) {
            const mark = marks.get(p.partition);
            if (!mark) continue;
            const offset = BigInt(p.offset);
            const lag = offset < 0n ? mark.high - mark.low : mark.high - offset;
            const labels = { group, topic, partition: String(p.partition) };
            this.m.lag.set(labels, Number(lag < 0n ? 0n : lag));
            if (offset >= 0n) this.m.committed.set(labels, Number(offset));
            seen.add(`${topic}\u0000${p.partition}`);
          }
        }
        for (const key of this.exported.get(group) ?? []) {
          if (seen.has(key)) continue;
          const [topic, partition] = key.split('\u0000');
          this.m.lag.remove({ group, topic, partition });
          this.m.committed.remove({ group, topic, partition });
        }
        this.exported.set(group, seen);
      }
      this.m.collections.inc({ outcome: 'ok' });
    } catch (err) {
      this.m.collections.inc({ outcome: 'error' });
      this.log.warn({ err }, 'consumer lag collection failed; will retry');
    }
  }
}
