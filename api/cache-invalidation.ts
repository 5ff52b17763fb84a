import type Redis from 'ioredis';
import { intSetting, Overrides, setting } from '../src/config';
import type { CommitListener, StorageWriteResult } from '../src/contracts/storage';
import { logger } from '../src/logging';
import { counter } from '../src/metrics';
import { cacheKeys, versionTtlSeconds } from './cache-keys';
import { cacheRedisUrl } from './settings';
import { createFailFastRedis, waitReady } from '../src/redis/fail-fast';
import { uniqueToken } from './redis';

/** The part of a committed storage batch this module reads. */
export type CommittedBatch = Pick<StorageWriteResult, 'posts' | 'deltas'>;

export interface CacheInvalidator extends CommitListener {
  /** Call after each committed batch; never throws. */
  onCommitted(batch: CommittedBatch): Promise<void>;
  close(): Promise<void>;
}

/**
 * Replaces the version tokens of the batch's posts that exist (a reader creates a post's key before
 * it reads Postgres, see cache.ts, so a missing key has no cached entry to protect) and of every key
 * in KEYS (persona and global versions). ARGV: token, TTL, the epoch key to set without expiry ('' for
 * none), the post version keys' prefix, how many posts, and their ids one per line (ids hold no
 * control characters). The post keys are built here, not passed: a batch touches thousands of posts,
 * and one argument per post was most of what the invalidation cost the storage consumer. (So the
 * script names keys it was not given, which a single Redis allows; the cache is not sharded.)
 */
const REPLACE_TOKENS_SCRIPT = `
local token, ttl = ARGV[1], ARGV[2]
local replaced = 0
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], token, 'EX', ttl)
  replaced = replaced + 1
end
local prefix, ids, at = ARGV[4], ARGV[6], 1
for _ = 1, tonumber(ARGV[5]) do
  local nl = string.find(ids, '\\n', at, true) or (#ids + 1)
  local key = prefix .. string.sub(ids, at, nl - 1)
  at = nl + 1
  if redis.call('EXISTS', key) == 1 then
    redis.call('SET', key, token, 'EX', ttl)
    replaced = replaced + 1
  end
end
if ARGV[3] ~= '' then redis.call('SET', ARGV[3], token) end
return replaced`;

const invalidations = counter('finops_api_cache_invalidations_total', 'Committed batches whose API cache invalidation was delivered (ok) or deferred (failed).', ['outcome']);

/**
 * Runs inside the storage consumer, handed to it as a commit listener by the composition root
 * (app/roles.ts). After every committed batch it replaces the version tokens of the posts and
 * personas the batch touched, and the global token (see cache.ts for why replaced tokens, not
 * deleted entries). If Redis cannot be reached, the lost invalidation is made good by replacing
 * the epoch token — which invalidates every entry — as soon as Redis answers again (on reconnect
 * or the next batch). Until then an API that can still reach Redis could serve entries at most
 * one TTL old; an API that cannot reach Redis serves Postgres directly.
 */
export function createCacheInvalidator(overrides: Overrides = {}): CacheInvalidator {
  const log = logger('api-cache-invalidation');
  const keys = cacheKeys(setting('API_CACHE_PREFIX', overrides));
  const versionTtl = versionTtlSeconds(intSetting('API_CACHE_TTL_SECONDS', overrides, { min: 1 }));
  let redis: Redis | undefined;
  let epochBumpPending = false;
  let everReady = false;

  const client = () => {
    if (!redis) {
      redis = createFailFastRedis(cacheRedisUrl(overrides), 1000, log, 'finops-storage-invalidation', overrides);
      redis.on('ready', () => {
        everReady = true;
        void bumpEpochIfPending();
      });
    }
    return redis;
  };

  async function bumpEpochIfPending(): Promise<void> {
    if (!epochBumpPending) return;
    try {
      await client().set(keys.epoch, uniqueToken());
      epochBumpPending = false;
      log.info('replaced the API cache epoch after a missed invalidation');
    } catch {
      // still unreachable; the next batch or reconnect retries
    }
  }

  client(); // connect now, so the first batch finds Redis ready
  return {
    async onCommitted(batch) {
      if (!batch.posts.length && !batch.deltas.length) return;
      // Set before trying: if this attempt fails we must not forget it, and a success of the epoch
      // write below clears it.
      const mustBumpEpoch = epochBumpPending;
      epochBumpPending = true;
      const token = uniqueToken();
      // Only while the very first connection is still being made; during an outage we never wait.
      if (!everReady && redis?.status !== 'ready') await waitReady(client(), 1000);
      const personas = new Set<string>();
      for (const d of batch.deltas) personas.add(d.persona_id);
      for (const p of batch.posts) personas.add(p.persona_id);
      try {
        // One script call for the whole batch, the posts' ids in one argument (see the script).
        const always = [...[...personas].map((p) => keys.personaVersion(p)), keys.allVersion];
        const postIds = batch.posts.map((p) => p.post_id).join('\n');
        await client().eval(REPLACE_TOKENS_SCRIPT, always.length, ...always, token, String(versionTtl), mustBumpEpoch ? keys.epoch : '', keys.postVersion(''), String(batch.posts.length), postIds);
        epochBumpPending = false;
        invalidations.inc({ outcome: 'ok' });
      } catch (err) {
        invalidations.inc({ outcome: 'failed' });
        log.warn({ err: (err as Error).message, posts: batch.posts.length }, 'could not invalidate the API cache; will replace the cache epoch when Redis answers');
      }
    },
    async close() {
      if (redis) {
        redis.disconnect();
        redis = undefined;
      }
    },
  };
}
