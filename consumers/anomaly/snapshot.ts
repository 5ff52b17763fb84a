import type { PartitionState } from './clock';
import { OpenAnomaly } from './lifecycle';
import { NO_COHORT, PersonaState, PostState } from './persona-state';
import { ScopedSnapshot } from './scoped-snapshot';
import { seasonalFromJson, SeasonalJson, SeasonalState, seasonalToJson } from './seasonal';

/** Everything the engine holds for one partition number, at given input offsets. */
export interface PartitionSnapshot {
  partition: number;
  /** Posts as compact tuples (see postRow): a partition holds tens of thousands of them. */
  clock: number;
  inputMax: { cost: number; outcome: number };
  personas: PersonaState[];
  posts: PostState[];
  /** The partition's recent cost event ids (RecentIds.serialize); absent in older checkpoints. */
  recentIds?: string;
  /** The partition's part of the scoped budgets; absent in older checkpoints (then the ledger seeds them all). */
  scoped?: ScopedSnapshot;
}

// [post, persona, cost, engagements, follows, revenue, first, last, anomaly, key (null: the post id), cohort, outcomeAt, final (0/1)]
type PostRow = [string, string, string, number, number, string, number, number, OpenAnomaly | null, (string | null)?, number?, number?, number?];

function postRow(p: PostState): PostRow {
  const row: PostRow = [
    p.postId, p.personaId, p.cost.toString(), p.engagements, p.follows, p.revenue.toString(), p.firstEventTime, p.lastEventTime, p.anomaly,
    p.key === p.postId ? null : p.key, p.cohort,
  ];
  if (p.outcomeAt > 0 || p.final) row.push(p.outcomeAt, p.final ? 1 : 0); // most posts have no outcome yet
  return row;
}

function fromPostRow(partition: number, r: PostRow): PostState {
  return {
    key: r[9] ?? r[0], postId: r[0], personaId: r[1], partition, cost: BigInt(r[2]), engagements: r[3], follows: r[4],
    revenue: BigInt(r[5]), firstEventTime: r[6], lastEventTime: r[7], anomaly: r[8],
    // Rows of checkpoints from before cohorts: such a post joins no cohort (its cost is partly unknown to it).
    cohort: r[10] ?? NO_COHORT, outcomeAt: r[11] ?? (r.length <= 10 && (r[3] > 0 || r[4] > 0 || r[5] !== '0') ? r[7] : 0), final: r[12] === 1,
  };
}

// BigInts are written as strings with a control-character prefix: ids are validated to hold no
// control characters, so no genuine string can be mistaken for one.
const BIGINT_TAG = '\u0001';

// A persona's seasonal profile (typed arrays) goes as base64 under the key `seasonal`.
const tagBigInts = (key: string, value: unknown) =>
  typeof value === 'bigint' ? BIGINT_TAG + value.toString() : key === 'seasonal' && value ? seasonalToJson(value as SeasonalState) : value;
const untagBigInts = (key: string, value: unknown) =>
  typeof value === 'string' && value.charCodeAt(0) === 1 ? BigInt(value.slice(1)) : key === 'seasonal' && value ? seasonalFromJson(value as SeasonalJson) : value;

/** Personas (few, nested) through a bigint-tagging replacer; posts (many, flat) as plain tuples, which is much faster. */
export function serializeSnapshot(s: PartitionSnapshot): string {
  const { head, posts } = serializeSnapshotParts(s);
  return `${head}\n${posts}`;
}

/**
 * The two lines of serializeSnapshot apart: the checkpoint store joins them in SQL, so the
 * consumer never holds a third, flattened copy of megabytes of text (a partition's checkpoint is
 * ~4 MB at 1,000 personas and 100,000 posts, and its copies were the consumer's peak RSS).
 */
export function serializeSnapshotParts(s: PartitionSnapshot): { head: string; posts: string } {
  const head = JSON.stringify({ partition: s.partition, clock: s.clock, inputMax: s.inputMax, personas: s.personas, recentIds: s.recentIds, scoped: s.scoped }, tagBigInts);
  return { head, posts: JSON.stringify(s.posts.map(postRow)) };
}

export function parseSnapshot(text: string): PartitionSnapshot {
  const nl = text.indexOf('\n');
  const head = JSON.parse(text.slice(0, nl), untagBigInts);
  const rows = JSON.parse(text.slice(nl + 1)) as PostRow[];
  return { ...head, posts: rows.map((r) => fromPostRow(head.partition, r)) };
}

export function takeSnapshot(p: PartitionState, posts: Iterable<PostState>): PartitionSnapshot {
  const mine: PostState[] = [];
  for (const post of posts) if (post.partition === p.partition) mine.push(post);
  return { partition: p.partition, clock: p.clock, inputMax: { ...p.inputMax }, personas: [...p.personas.values()], posts: mine, recentIds: p.recentIds.serialize() };
}
