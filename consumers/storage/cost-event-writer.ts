import { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { DependencyError, InvalidInputError } from '../../src/errors';
import type { RefusedMessage } from '../../src/kafka/dead-letter';
import { COST_EVENT_COLUMNS, copyLine, StoredEvent } from './copy-rows';

/** A refused message, recorded with its origin. */
export type DeadLetterRow = RefusedMessage;

export interface PersonaCostDelta {
  persona_id: string;
  cost_type: string;
  model: string;
  amount_usd: string;
  events: number;
  /** The vector-DB operation (query, upsert, …) for vector_db rows; null otherwise. */
  operation?: string | null;
}

export interface WriteResult {
  /** Rows newly inserted; the rest of the batch were redeliveries of stored events. */
  inserted: number;
  /** Posts whose totals changed, with their new totals (for cache invalidation and metrics). */
  posts: { post_id: string; persona_id: string; total_usd: string }[];
  /** What the inserted rows added, by persona, cost type and model. */
  deltas: PersonaCostDelta[];
  deadLettered: number;
}

const COLUMN_LIST = COST_EVENT_COLUMNS.join(', ');

// Everything below runs in one transaction; rollups are computed from the rows this statement
// actually inserted, so a redelivered event changes neither the table nor the totals.
const INSERT_SQL = `
WITH ins AS (
  INSERT INTO cost_events (${COLUMN_LIST})
  SELECT ${COLUMN_LIST} FROM cost_events_stage
  ON CONFLICT DO NOTHING
  RETURNING event_time, cost_type, amount_usd, persona_id, post_id, coalesce(model, '') AS model, price_status, vector_operation
), post AS (
  INSERT INTO post_costs AS p (post_id, persona_id, total_usd, openai_api_usd, kubernetes_usd, vector_db_usd, other_usd,
                               event_count, unpriced_event_count, first_event_at, last_event_at)
  SELECT post_id, min(persona_id), sum(amount_usd),
         coalesce(sum(amount_usd) FILTER (WHERE cost_type = 'openai_api'), 0),
         coalesce(sum(amount_usd) FILTER (WHERE cost_type = 'kubernetes'), 0),
         coalesce(sum(amount_usd) FILTER (WHERE cost_type = 'vector_db'), 0),
         coalesce(sum(amount_usd) FILTER (WHERE cost_type NOT IN ('openai_api', 'kubernetes', 'vector_db')), 0),
         count(*), count(*) FILTER (WHERE price_status <> 'priced'), min(event_time), max(event_time)
  FROM ins WHERE post_id IS NOT NULL
  GROUP BY post_id ORDER BY post_id
  ON CONFLICT (post_id) DO UPDATE SET
    total_usd = p.total_usd + excluded.total_usd,
    openai_api_usd = p.openai_api_usd + excluded.openai_api_usd,
    kubernetes_usd = p.kubernetes_usd + excluded.kubernetes_usd,
    vector_db_usd = p.vector_db_usd + excluded.vector_db_usd,
    other_usd = p.other_usd + excluded.other_usd,
    event_count = p.event_count + excluded.event_count,
    unpriced_event_count = p.unpriced_event_count + excluded.unpriced_event_count,
    first_event_at = least(p.first_event_at, excluded.first_event_at),
    last_event_at = greatest(p.last_event_at, excluded.last_event_at),
    updated_at = now()
  RETURNING post_id, persona_id, total_usd
), daily AS (
  INSERT INTO persona_daily_costs AS d (persona_id, day, cost_type, model, total_usd, event_count)
  SELECT persona_id, (event_time AT TIME ZONE 'UTC')::date, cost_type, model, sum(amount_usd), count(*)
  FROM ins GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ON CONFLICT (persona_id, day, cost_type, model) DO UPDATE SET
    total_usd = d.total_usd + excluded.total_usd,
    event_count = d.event_count + excluded.event_count
  RETURNING 1
)
SELECT
  (SELECT count(*) FROM ins)::int AS inserted,
  (SELECT count(*) FROM daily)::int AS daily_rows,
  coalesce((SELECT json_agg(post) FROM post), '[]') AS posts,
  coalesce((SELECT json_agg(x) FROM (
     SELECT persona_id, cost_type, model, vector_operation AS operation, sum(amount_usd)::text AS amount_usd, count(*)::int AS events
     FROM ins GROUP BY 1, 2, 3, 4) x), '[]') AS deltas`;

const DEAD_LETTER_SQL = `
INSERT INTO dead_letters (consumer_group, source_topic, source_partition, source_offset, reason, error, message_key, payload)
SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::bytea[], $8::bytea[])
ON CONFLICT DO NOTHING`;

// SQLSTATE classes that say "this data is wrong": retrying the same rows cannot succeed.
const DATA_ERROR_CLASSES = new Set(['22', '23']);
// Classes that say "try again": connection, transaction rollback, resources, operator intervention.
const RETRIABLE_CLASSES = new Set(['08', '40', '53', '55', '57', '58']);

export function classifyPgError(err: unknown): 'data' | 'retriable' | 'fatal' {
  const code = (err as { code?: string })?.code;
  if (typeof code === 'string' && code.length === 5) {
    const cls = code.slice(0, 2);
    if (DATA_ERROR_CLASSES.has(cls)) return 'data';
    if (RETRIABLE_CLASSES.has(cls)) return 'retriable';
    return 'fatal';
  }
  // Socket errors (ECONNREFUSED, ECONNRESET, timeouts) carry no SQLSTATE.
  return 'retriable';
}

function clean(text: string): string {
  return text.replace(/\u0000/g, '\uFFFD');
}

/**
 * Writes batches of cost events (and the dead letters that came with them) in one transaction:
 * COPY into a session-local staging table, then one INSERT … ON CONFLICT DO NOTHING that also
 * updates the rollups from the rows it inserted.
 */
export class CostEventWriter {
  private client: PoolClient | undefined;

  constructor(private readonly pool: Pool, private readonly consumerGroup: string) {}

  private async connection(): Promise<PoolClient> {
    if (!this.client) {
      const client = await this.pool.connect();
      try {
        await client.query('CREATE TEMP TABLE IF NOT EXISTS cost_events_stage (LIKE cost_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS');
      } catch (err) {
        client.release(true);
        throw err;
      }
      this.client = client;
    }
    return this.client;
  }

  /** Drops the connection after an error so the next attempt starts from a clean session. */
  private discard(): void {
    this.client?.release(true);
    this.client = undefined;
  }

  async write(events: StoredEvent[], deadLetters: DeadLetterRow[]): Promise<WriteResult> {
    let client: PoolClient;
    try {
      client = await this.connection();
    } catch (err) {
      throw new DependencyError('postgres', `cannot connect: ${(err as Error).message}`, { cause: err });
    }
    try {
      await client.query('BEGIN');
      let result: WriteResult = { inserted: 0, posts: [], deltas: [], deadLettered: deadLetters.length };
      if (events.length > 0) {
        const copy = client.query(copyFrom(`COPY cost_events_stage (${COLUMN_LIST}) FROM STDIN`));
        await pipeline(Readable.from(events.map(copyLine).join('')), copy);
        // Named, so each connection plans this statement once rather than on every batch.
        const { rows } = await client.query({ name: 'finops-store-cost-events', text: INSERT_SQL });
        result = { inserted: rows[0].inserted, posts: rows[0].posts, deltas: rows[0].deltas, deadLettered: deadLetters.length };
      }
      if (deadLetters.length > 0) {
        await client.query(DEAD_LETTER_SQL, [
          this.consumerGroup,
          deadLetters.map((d) => d.topic),
          deadLetters.map((d) => d.partition),
          deadLetters.map((d) => d.offset),
          deadLetters.map((d) => d.reason),
          deadLetters.map((d) => clean(d.error)),
          deadLetters.map((d) => d.key),
          deadLetters.map((d) => d.value),
        ]);
      }
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      const kind = classifyPgError(err);
      if (kind !== 'data') this.discard();
      if (kind === 'data') throw new InvalidInputError('storage.rejected', `Postgres refused the batch: ${(err as Error).message}`, { cause: err });
      if (kind === 'retriable') throw new DependencyError('postgres', (err as Error).message, { cause: err });
      throw err;
    }
  }

  close(): void {
    this.discard();
  }
}
