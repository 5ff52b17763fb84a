import type { PartitionState } from './engine';
import { PersonaState, PostState } from './persona-state';

/** Everything the engine holds for one partition number, at given input offsets. */
export interface PartitionSnapshot {
  partition: number;
  clock: number;
  inputMax: { cost: number; outcome: number };
  personas: PersonaState[];
  posts: PostState[];
}

// BigInts are written as strings with a control-character prefix: ids are validated to hold no
// control characters, so no genuine string can be mistaken for one.
const BIGINT_TAG = '\u0001';

export function serializeSnapshot(snapshot: PartitionSnapshot): string {
  return JSON.stringify(snapshot, (_key, value) => (typeof value === 'bigint' ? BIGINT_TAG + value.toString() : value));
}

export function parseSnapshot(text: string): PartitionSnapshot {
  return JSON.parse(text, (_key, value) => (typeof value === 'string' && value.charCodeAt(0) === 1 ? BigInt(value.slice(1)) : value));
}

export function takeSnapshot(p: PartitionState, posts: Iterable<PostState>): PartitionSnapshot {
  const mine: PostState[] = [];
  for (const post of posts) if (post.partition === p.partition) mine.push(post);
  return { partition: p.partition, clock: p.clock, inputMax: { ...p.inputMax }, personas: [...p.personas.values()], posts: mine };
}
