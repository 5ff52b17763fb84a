import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { createCacheInvalidator } from '../../api';
import { cacheKeys } from '../../api/cache-keys';
import { setting } from '../../src/config';

describe("the storage role's API cache invalidation, against Redis", () => {
  const prefix = `test:inv${randomBytes(4).toString('hex')}:`;
  const keys = cacheKeys(prefix);
  const overrides = { API_CACHE_PREFIX: prefix };
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(setting('REDIS_URL'));
  });
  afterAll(async () => {
    const left = await redis.keys(`${prefix}*`);
    if (left.length) await redis.del(...left);
    await redis.quit();
  });

  it("replaces the tokens of a batch's cached posts, leaves the uncached ones absent, and replaces its personas' and the global token", async () => {
    const posts = Array.from({ length: 3000 }, (_, i) => `post-${i}${i % 7 === 0 ? ' with:odd/chars?&é' : ''}`);
    const cached = posts.filter((_, i) => i % 500 === 3);
    for (const p of cached) await redis.set(keys.postVersion(p), 'old');
    await redis.set(keys.personaVersion('persona-a'), 'old');
    const invalidator = createCacheInvalidator(overrides);
    try {
      await invalidator.onCommitted({
        posts: posts.map((post_id, i) => ({ post_id, persona_id: i % 2 ? 'persona-a' : 'persona-b', amount_nano: 1n })),
        deltas: [{ persona_id: 'persona-c', cost_type: 'kubernetes', model: '', amount_usd: '0.000000001', events: 1 }],
      });
    } finally {
      await invalidator.close();
    }
    const tokens = await redis.mget(...cached.map((p) => keys.postVersion(p)));
    expect(tokens.every((t) => t !== null && t !== 'old')).toBe(true);
    expect(new Set(tokens).size).toBe(1); // one token for the whole batch
    const created = await redis.keys(`${prefix}v:post:*`);
    expect(created.sort()).toEqual(cached.map((p) => keys.postVersion(p)).sort());
    for (const persona of ['persona-a', 'persona-b', 'persona-c']) expect(await redis.get(keys.personaVersion(persona))).toBe(tokens[0]);
    expect(await redis.get(keys.allVersion)).toBe(tokens[0]);
    expect(await redis.ttl(keys.postVersion(cached[0]))).toBeGreaterThan(0);
  });
});
