import { PersonaState } from './persona-state';
import { RecentIds } from './recent-ids';

export type Input = 'cost' | 'outcome';

/** Event-time clock and state of one Kafka partition number (the same number on both input topics). */
export interface PartitionState {
  partition: number;
  /** Largest (skew-capped) event time seen on each input topic. */
  inputMax: Record<Input, number>;
  /** Inputs with a backlog (set by the adapter from the high watermarks). */
  lagging: Record<Input, boolean>;
  /** Event-time clock, never moving backwards. */
  clock: number;
  /** Wall time the clock was last advanced. */
  clockWall: number;
  personas: Map<string, PersonaState>;
  /** Cost event ids seen lately: a second arrival of one is not counted again. */
  recentIds: RecentIds;
}

export function newPartition(partition: number, wall: number, recentIds: RecentIds): PartitionState {
  return { partition, inputMax: { cost: 0, outcome: 0 }, lagging: { cost: false, outcome: false }, clock: 0, clockWall: wall, personas: new Map(), recentIds };
}

/**
 * Advances the partition's event-time clock. While an input has a backlog the clock stands at
 * the slowest such input's largest event time (so outcomes are not late merely because costs
 * were read first, and a replay of old events is not mistaken for quiet). When both inputs
 * are caught up, the clock is the largest event time seen, running on with the wall clock, so
 * a quiet partition still closes its windows.
 */
export function advanceClock(p: PartitionState, wall: number): number {
  if (p.lagging.cost || p.lagging.outcome) {
    const slowest = Math.min(p.lagging.cost ? p.inputMax.cost : Infinity, p.lagging.outcome ? p.inputMax.outcome : Infinity);
    p.clock = Math.max(p.clock, slowest);
  } else {
    p.clock = Math.max(p.clock + Math.max(0, wall - p.clockWall), p.inputMax.cost, p.inputMax.outcome);
  }
  p.clockWall = wall;
  return p.clock;
}

/** The clock minus the allowed lateness: windows ending at or before it are closed (0 before any input). */
export function watermark(p: PartitionState, wall: number, allowedLatenessMs: number): number {
  if (p.inputMax.cost === 0 && p.inputMax.outcome === 0) return 0;
  return advanceClock(p, wall) - allowedLatenessMs;
}

/** Records an input's event time, capped at the wall clock plus the allowed skew; returns the capped time. */
export function observeTime(p: PartitionState, input: Input, t: number, wall: number, maxClockSkewMs: number): number {
  const capped = Math.min(t, wall + maxClockSkewMs);
  if (capped > p.inputMax[input]) p.inputMax[input] = capped;
  return capped;
}
