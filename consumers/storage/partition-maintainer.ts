import { Pool } from 'pg';
import { Logger } from '../../src/logging';

export interface PartitionPolicy {
  /** Months of partitions kept ready ahead of now. */
  monthsAhead: number;
  /** Months back that must have partitions (covers the oldest accepted event time). */
  monthsBack: number;
  /** Drop partitions older than this many months; 0 keeps everything. */
  retentionMonths: number;
}

/**
 * Keeps monthly partitions of cost_events ahead of time and applies retention. Runs at start
 * and then hourly; the SQL functions are idempotent, so several consumers may run it at once.
 */
export class PartitionMaintainer {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pool: Pool, private readonly policy: PartitionPolicy, private readonly log: Logger) {}

  async runOnce(): Promise<{ created: string[]; dropped: string[] }> {
    const client = await this.pool.connect();
    try {
      // One maintainer at a time across the group; the others skip this round.
      const { rows: lock } = await client.query('SELECT pg_try_advisory_lock(7412903552) AS ok');
      if (!lock[0].ok) return { created: [], dropped: [] };
      try {
        const created = (await client.query('SELECT finops_ensure_partitions($1, $2) AS name', [this.policy.monthsBack, this.policy.monthsAhead])).rows.map((r) => r.name);
        const dropped = this.policy.retentionMonths > 0
          ? (await client.query('SELECT finops_drop_partitions_older_than($1) AS name', [this.policy.retentionMonths])).rows.map((r) => r.name)
          : [];
        if (created.length || dropped.length) this.log.info({ created, dropped }, 'cost_events partitions maintained');
        return { created, dropped };
      } finally {
        await client.query('SELECT pg_advisory_unlock(7412903552)');
      }
    } finally {
      client.release();
    }
  }

  start(intervalMs = 3_600_000): void {
    this.timer = setInterval(() => void this.runOnce().catch((err) => this.log.warn({ err }, 'partition maintenance failed')), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
