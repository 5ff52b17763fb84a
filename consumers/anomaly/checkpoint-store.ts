import { Pool } from 'pg';
import { DependencyError } from '../../src/errors';

export interface Positions {
  /** Next offset to process; -1 when nothing was processed on that topic partition yet. */
  cost: number;
  outcome: number;
}

export interface Checkpoint {
  partition: number;
  positions: Positions;
  state: string;
  takenAt: Date;
}

/**
 * Checkpoints of the anomaly state in Postgres. A write never moves a partition backwards: a
 * former owner finishing late (after a rebalance) cannot overwrite its successor's newer state.
 */
export class CheckpointStore {
  constructor(private readonly pool: Pool, private readonly groupId: string, private readonly costTopic: string, private readonly outcomeTopic: string) {}

  async load(partition: number): Promise<Checkpoint | null> {
    try {
      const { rows } = await this.pool.query(
        'SELECT cost_offset, outcome_offset, state, taken_at FROM anomaly_checkpoints WHERE group_id = $1 AND cost_topic = $2 AND partition = $3',
        [this.groupId, this.costTopic, partition],
      );
      if (!rows[0]) return null;
      return { partition, positions: { cost: Number(rows[0].cost_offset), outcome: Number(rows[0].outcome_offset) }, state: rows[0].state, takenAt: rows[0].taken_at };
    } catch (err) {
      throw new DependencyError('postgres', `loading anomaly checkpoint: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * One partition's checkpoint; the state travels as plain text parameters (no array-literal
   * escaping of megabytes), its two lines (serializeSnapshotParts) joined by Postgres.
   */
  async save(c: Omit<Checkpoint, 'takenAt' | 'state'> & { state: { head: string; posts: string } }): Promise<void> {
    try {
      await this.pool.query(
        `INSERT INTO anomaly_checkpoints AS c (group_id, cost_topic, outcome_topic, partition, cost_offset, outcome_offset, state, taken_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7::text || E'\n' || $8::text, now())
         ON CONFLICT (group_id, cost_topic, partition) DO UPDATE SET
           cost_offset = excluded.cost_offset, outcome_offset = excluded.outcome_offset, state = excluded.state, taken_at = excluded.taken_at
         WHERE c.cost_offset <= excluded.cost_offset AND c.outcome_offset <= excluded.outcome_offset`,
        [this.groupId, this.costTopic, this.outcomeTopic, c.partition, c.positions.cost, c.positions.outcome, c.state.head, c.state.posts],
      );
    } catch (err) {
      throw new DependencyError('postgres', `saving anomaly checkpoint: ${(err as Error).message}`, { cause: err });
    }
  }
}
