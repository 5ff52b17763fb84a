import { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { DependencyError, InvalidInputError } from '../../src/errors';
import { recordDeadLetters, type RefusedMessage } from '../../src/kafka/dead-letter';
import type { StorageWriteResult } from '../../src/contracts/storage';
import { formatUsd } from '../../src/money';
import { COST_EVENT_COLUMNS } from './copy-rows';
import { ID_COPY_SQL } from './id-copy';
import { classify, copyLines, firstArrivals, idTuples, type LedgerRow, originalMessage, rollupDeltas, rowEventId, rowEventTime, rowFingerprint, rowKey } from './ledger-batch';

/** A refused message, recorded with its origin. */
export type DeadLetterRow = RefusedMessage;

export type { PersonaCostDelta } from '../../src/contracts/storage';

/** The batch's result as listeners see it (src/contracts/storage.ts), plus the dead letters for the consumer itself. */
export interface WriteResult extends StorageWriteResult {
  /** Every dead letter recorded with the batch: those passed in, then `event_id.conflict` ones. */
  deadLetters: DeadLetterRow[];
}

const COLUMN_LIST = COST_EVENT_COLUMNS.join(', ');

// The daily rollup is upserted from deltas summed in the consumer (exactly, in nano-dollars) over the
// rows this transaction inserted, so a duplicate changes neither the ledger nor the totals.
// post_costs is a view over the events (sql/090): a per-post upsert touched nearly every post of a
// batch and cost about as much as the rows themselves.
const DAILY_ROLLUP_SQL = `
INSERT INTO persona_daily_costs AS d (persona_id, day, cost_type, model, total_usd, event_count)
SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::numeric[], $6::bigint[])
ON CONFLICT (persona_id, day, cost_type, model) DO UPDATE SET
  total_usd = d.total_usd + excluded.total_usd,
  event_count = d.event_count + excluded.event_count`;

// The slow path, for batches holding ids the ledger may already have: claim the new ids, then
// read the fingerprints of the ones that were there.
const CLAIM_IDS_SQL = `
INSERT INTO cost_event_ids (event_key, event_time, fingerprint)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[])
ON CONFLICT DO NOTHING
RETURNING event_key::text`;
const HELD_IDS_SQL = 'SELECT event_key::text AS key, fingerprint::text AS fingerprint FROM cost_event_ids WHERE event_key = ANY($1::uuid[])';

/** After a batch met ids already held, this many next batches of the lane skip the optimistic COPY. */
const SLOW_PATH_BATCHES = 8;
/**
 * Fewer ids than this are claimed with one INSERT … ON CONFLICT (one round trip) rather than a
 * COPY under a savepoint (three): small batches are latency-bound, large ones CPU-bound.
 */
const COPY_CLAIM_MIN_IDS = 256;

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

async function copyInto(client: PoolClient, sql: string, data: string | Buffer): Promise<void> {
  await pipeline(Readable.from([data]), client.query(copyFrom(sql)));
}

/**
 * Writes batches of cost events (and the dead letters that came with them) in one transaction.
 * The batch's ids are claimed in cost_event_ids first; only the first arrival of an id that was
 * new becomes a row, COPYed straight into cost_events, and the rollups grow by those rows alone.
 * Optimistically the ids of a large batch are COPYed too (new events, the usual case, cost two COPYs);
 * a unique violation rolls back to a savepoint and the batch takes the slow path (INSERT … ON
 * CONFLICT on the ids, then a look-up of the held fingerprints). A second arrival with other
 * content is returned as an `event_id.conflict` dead letter, recorded in the same transaction.
 */
export class CostEventWriter {
  private client: PoolClient | undefined;
  private broken = false;
  private slowBatches = 0;

  constructor(private readonly pool: Pool, private readonly consumerGroup: string, private readonly topic = '') {}

  private async connection(): Promise<PoolClient> {
    if (this.broken) this.discard();
    if (!this.client) {
      const client = await this.pool.connect();
      // A checked-out client that loses its server (a Postgres restart) emits 'error'; unheard,
      // that would end the process. The next write takes a new connection instead.
      client.on('error', () => {
        if (this.client === client) this.broken = true;
      });
      this.client = client;
      this.broken = false;
    }
    return this.client;
  }

  /** Drops the connection after an error so the next attempt starts from a clean session. */
  private discard(): void {
    const client = this.client;
    this.client = undefined;
    this.broken = false;
    client?.release(true);
  }

  async write(events: LedgerRow[], deadLetters: DeadLetterRow[]): Promise<WriteResult> {
    let client: PoolClient;
    try {
      client = await this.connection();
    } catch (err) {
      throw new DependencyError('postgres', `cannot connect: ${(err as Error).message}`, { cause: err });
    }
    try {
      await client.query('BEGIN');
      let result: WriteResult = { inserted: 0, duplicates: 0, posts: [], deltas: [], deadLettered: deadLetters.length, deadLetters };
      if (events.length > 0) result = await this.writeEvents(client, events, deadLetters);
      if (result.deadLetters.length > 0) await recordDeadLetters(client, this.consumerGroup, result.deadLetters);
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

  private async writeEvents(client: PoolClient, events: LedgerRow[], deadLetters: DeadLetterRow[]): Promise<WriteResult> {
    // Optimistically every row's id is claimed as it comes: an id the ledger holds, or one the batch
    // holds twice, fails the COPY, and the batch takes the slow path, which sorts out first arrivals.
    if (this.slowBatches > 0) this.slowBatches--;
    else if (events.length >= COPY_CLAIM_MIN_IDS) {
      await client.query('SAVEPOINT claim_ids');
      try {
        await copyInto(client, ID_COPY_SQL, idTuples(events));
        await client.query('RELEASE SAVEPOINT claim_ids');
        return this.insertFresh(client, events, 0, [], deadLetters);
      } catch (err) {
        if ((err as { code?: string }).code !== '23505') throw err;
        await client.query('ROLLBACK TO SAVEPOINT claim_ids');
        this.slowBatches = SLOW_PATH_BATCHES;
      }
    }
    const { firsts, repeats } = firstArrivals(events);
    const held = await this.claimSlowly(client, firsts);
    const { fresh, duplicates, conflicts } = classify(firsts, repeats, held);
    return this.insertFresh(client, fresh, duplicates, conflicts, deadLetters);
  }

  /** Stores the rows whose ids this transaction claimed, and their rollups; records the conflicts. */
  private async insertFresh(client: PoolClient, rows: LedgerRow[], duplicates: number, conflicts: LedgerRow[], deadLetters: DeadLetterRow[]): Promise<WriteResult> {
    if (rows.length > 0) await copyInto(client, `COPY cost_events (${COLUMN_LIST}) FROM STDIN`, copyLines(rows));
    const { posts, daily, deltas } = rollupDeltas(rows);
    if (daily.length > 0) {
      await client.query({
        name: 'finops-daily-rollup',
        text: DAILY_ROLLUP_SQL,
        values: [daily.map((d) => d.persona_id), daily.map((d) => d.day), daily.map((d) => d.cost_type), daily.map((d) => d.model), daily.map((d) => formatUsd(d.total)), daily.map((d) => d.events)],
      });
    }
    const conflicted = conflicts.map((row): DeadLetterRow => ({
      topic: this.topic, partition: row.partition, offset: row.offset, reason: 'event_id.conflict',
      error: `event id ${JSON.stringify(rowEventId(row))} is already stored with a different cost type, amount, persona or post; the first arrival stands`,
      ...originalMessage(row),
    }));
    const all = [...deadLetters, ...conflicted];
    return { inserted: rows.length, duplicates, posts, deltas, deadLettered: all.length, deadLetters: all };
  }

  /** Claims the ids that are new; returns the fingerprints held for the others. */
  private async claimSlowly(client: PoolClient, firsts: LedgerRow[]): Promise<Map<string, string>> {
    const { rows } = await client.query<{ event_key: string }>({
      name: 'finops-claim-ids',
      text: CLAIM_IDS_SQL,
      values: [firsts.map(rowKey), firsts.map(rowEventTime), firsts.map(rowFingerprint)],
    });
    const claimed = new Set(rows.map((r) => r.event_key));
    const others = firsts.map(rowKey).filter((key) => !claimed.has(key));
    const held = new Map<string, string>();
    if (others.length === 0) return held;
    const { rows: found } = await client.query<{ key: string; fingerprint: string }>({ name: 'finops-held-ids', text: HELD_IDS_SQL, values: [others] });
    for (const r of found) held.set(r.key, r.fingerprint);
    return held;
  }

  close(): void {
    this.discard();
  }
}
