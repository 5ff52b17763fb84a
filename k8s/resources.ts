/**
 * Pod sizing per role, shared by the manifests (k8s/generate.ts) and the benchmarks, which run a
 * role with the same Node flags its Deployment sets.
 *
 * heapMb caps V8's old space below the memory limit (V8 otherwise grows lazily far past the live set).
 * V8 also scales by this cap how far the old generation may grow past its live set before the next
 * full collection (its heap controller's MaxGrowingFactor): at most 1.3× at 256 MB, rising linearly
 * to 2× just below 2 GB (1.6× at 1024 MB). The storage role's live set is
 * bounded by its lanes (~30-40 MB of heap), so its cap is set for that factor rather than as a bound.
 * Draining 1,000,000 events in alternating pairs, 1024 MB against 256 MB cut its CPU per event by
 * 16-18 % and stored 10-11 % faster, and peaked 5-11 MB higher (176-186 MB); 512 MB sat between.
 * semiSpaceMb caps the young generation: Node's default (16 MiB semi-spaces, up to ~48 MiB committed)
 * suits allocation-heavy request handlers; a consumer that decodes and drops events at a steady
 * rate runs as fast with 4 MiB and holds ~30 MiB less.
 * mallocArenaMax caps glibc's malloc arenas (MALLOC_ARENA_MAX), where Buffers outside the V8 heap
 * live: with one arena per thread, memory freed by the collector's threads stays resident.
 *
 * Storage, draining a full topic: 16 MiB semi-spaces (with 4 MiB fetches) peaked at 250-270 MB over
 * 300,000 events. Over 1,000,000 events 4 MiB semi-spaces peaked at 195-197 MB, 3-14 % slower than
 * 8 MiB in back-to-back pairs; 8 MiB peaked at 205-211 MB, and at 191-192 MB with two malloc arenas.
 */
export interface RoleResources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
  heapMb: number;
  semiSpaceMb?: number;
  mallocArenaMax?: number;
}

export const RESOURCES: Record<string, RoleResources> = {
  storage: { requests: { cpu: '500m', memory: '256Mi' }, limits: { cpu: '2', memory: '1280Mi' }, heapMb: 1024, semiSpaceMb: 8, mallocArenaMax: 2 },
  anomaly: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' }, heapMb: 256, semiSpaceMb: 4 },
  api: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' }, heapMb: 384 },
  /** HTTP ingest holds at most INGEST_MAX_BUFFERED_EVENTS events and the bodies in hand; measured with `npm run bench:http-ingest`. */
  ingest: { requests: { cpu: '500m', memory: '256Mi' }, limits: { cpu: '2', memory: '384Mi' }, heapMb: 192 },
  default: { requests: { cpu: '100m', memory: '192Mi' }, limits: { cpu: '500m', memory: '384Mi' }, heapMb: 288 },
};

/** Environment variables of a role's container besides its settings: NODE_OPTIONS and the malloc cap. */
export function runtimeEnv(role: string): Record<string, string> {
  const r = RESOURCES[role] ?? RESOURCES.default;
  return { NODE_OPTIONS: nodeOptions(role), ...(r.mallocArenaMax ? { MALLOC_ARENA_MAX: String(r.mallocArenaMax) } : {}) };
}

/** NODE_OPTIONS for a role's container. */
export function nodeOptions(role: string): string {
  const r = RESOURCES[role] ?? RESOURCES.default;
  return [`--max-old-space-size=${r.heapMb}`, ...(r.semiSpaceMb ? [`--max-semi-space-size=${r.semiSpaceMb}`] : [])].join(' ');
}
