/**
 * What the storage consumer hands to whoever listens for committed batches (the business metrics,
 * the query API's cache invalidation), after the Postgres transaction holding the batch committed.
 */
export interface PersonaCostDelta {
  persona_id: string;
  cost_type: string;
  model: string;
  amount_usd: string;
  events: number;
  /** The vector-DB operation (query, upsert, …) for vector_db rows; null otherwise. */
  operation?: string | null;
}

/** What a batch's inserted rows added to one post. */
export interface PostCostDelta {
  post_id: string;
  /** The post's persona (the least, should a post's events name several). */
  persona_id: string;
  /** Exact, in nano-dollars (1e-9 USD). */
  amount_nano: bigint;
}

export interface StorageWriteResult {
  /** Rows newly inserted. */
  inserted: number;
  /** Arrivals of an id already stored (or earlier in the batch) with the same content: dropped. */
  duplicates: number;
  /** Posts the inserted rows belong to, with what they added to each (for cache invalidation and metrics). */
  posts: PostCostDelta[];
  /** What the inserted rows added, by persona, cost type and model. */
  deltas: PersonaCostDelta[];
  deadLettered: number;
}

/** Told of every committed batch, in commit order; closed when the storage role stops. */
export interface CommitListener {
  onCommitted(result: StorageWriteResult): Promise<void> | void;
  close?(): Promise<void>;
}
