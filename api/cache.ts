import type Redis from 'ioredis';
import { counter } from '../src/metrics';
import { Logger } from '../src/logging';
import { cacheKeys, versionTtlSeconds } from './cache-keys';

export type CacheOutcome = 'hit' | 'miss' | 'bypass';

/** An answer served but not stored. */
export interface Uncached {
  body: string;
  store: false;
}

const cacheRequests = counter('finops_api_cache_requests_total', 'API cache lookups by outcome (hit, miss, bypass = Redis unavailable).', ['outcome']);

/**
 * Cache-aside with version tokens, one Redis round trip per lookup (MGET epoch, version, entry).
 *
 * Why this is never stale: the reader reads the tokens BEFORE it queries Postgres and stores the
 * response tagged with them. The storage consumer replaces the tokens AFTER its transaction
 * commits. So an entry computed from data older than a commit carries a token that commit has
 * already replaced (or will replace), and no reader uses it once the replacement is written —
 * milliseconds after the commit. Deleting keys instead would race: a slow reader could write its
 * pre-commit result back after the delete and serve it for a whole TTL.
 */
export class ApiCache {
  private readonly keys;
  constructor(
    private readonly redis: Redis | null,
    prefix: string,
    private readonly ttlSeconds: number,
    private readonly log: Logger,
    /** Bodies larger than this are served but not stored. */
    private readonly maxEntryBytes = 262_144,
  ) {
    this.keys = cacheKeys(prefix);
  }

  get layout() {
    return this.keys;
  }

  /**
   * Returns the JSON body for `entryKey`, loading it with `load` on a miss. `load` returns null
   * (nothing there: 404) or `{ body, store: false }` for an answer about nothing (e.g. a breakdown of
   * a persona with no spend): neither is stored, and the version key this lookup created for it is
   * removed again, so ids that do not exist leave no key behind. A hit is the Redis bytes as they
   * are: no UTF-8 decoding and re-encoding per response.
   */
  async getOrLoad(entryKey: string, versionKey: string, load: () => Promise<string | Uncached | null>): Promise<{ body: Buffer | string | null; outcome: CacheOutcome }> {
    let tags: string | null = null;
    let createdVersion = false;
    if (this.redis) {
      try {
        const [epoch, found, entry] = await this.redis.mgetBuffer(this.keys.epoch, versionKey, entryKey);
        let version = found?.toString() ?? null;
        if (version === null) {
          // The storage consumer only replaces version keys that exist (most posts are never read),
          // so create it before reading Postgres: a commit after this point replaces it.
          const token = `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
          const prior = (await this.redis.call('SET', versionKey, token, 'EX', String(versionTtlSeconds(this.ttlSeconds)), 'NX', 'GET')) as string | null;
          version = prior ?? token;
          createdVersion = prior === null;
        }
        tags = `${epoch?.toString() ?? ''}\n${version}\n`;
        const tagBytes = Buffer.from(tags);
        if (entry !== null && entry.length >= tagBytes.length && entry.compare(tagBytes, 0, tagBytes.length, 0, tagBytes.length) === 0) {
          cacheRequests.inc({ outcome: 'hit' });
          return { body: entry.subarray(tagBytes.length), outcome: 'hit' };
        }
      } catch (err) {
        tags = null;
        this.log.debug({ err: (err as Error).message }, 'cache read failed');
      }
    }
    const loaded = await load();
    const body = loaded === null || typeof loaded === 'string' ? loaded : loaded.body;
    const store = typeof loaded === 'string' && Buffer.byteLength(loaded) <= this.maxEntryBytes;
    cacheRequests.inc({ outcome: tags === null ? 'bypass' : 'miss' });
    if (tags !== null && this.redis) {
      if (store) this.redis.set(entryKey, tags + body, 'EX', this.ttlSeconds).catch((err: Error) => this.log.debug({ err: err.message }, 'cache write failed'));
      // Safe whoever else read this token meanwhile: a missing version key is recreated with a fresh
      // token, which no stored entry carries.
      else if (createdVersion) this.redis.del(versionKey).catch((err: Error) => this.log.debug({ err: err.message }, 'cache version cleanup failed'));
    }
    return { body, outcome: tags === null ? 'bypass' : 'miss' };
  }
}

export { versionTtlSeconds };
