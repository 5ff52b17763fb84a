/**
 * Redis key layout of the API cache (all under API_CACHE_PREFIX).
 *
 *   epoch              token; replaced when an invalidation may have been lost (see cache-invalidation.ts)
 *   v:post:<post_id>   token; replaced after every committed batch that touched the post
 *   v:persona:<id>     token; replaced after every committed batch that touched the persona
 *   v:all              token; replaced after every committed batch
 *   e:…                cached response: "<epoch>\n<version>\n<json>", valid only while both tokens still match
 */
export const cacheKeys = (prefix: string) => ({
  epoch: `${prefix}epoch`,
  postVersion: (postId: string) => `${prefix}v:post:${postId}`,
  personaVersion: (personaId: string) => `${prefix}v:persona:${personaId}`,
  allVersion: `${prefix}v:all`,
  entry: (...parts: string[]) => `${prefix}e:${parts.map((p) => encodeURIComponent(p)).join(':')}`,
});

/** Version keys outlive every entry stored under them, so an expired version never matches an old entry. */
export const versionTtlSeconds = (cacheTtlSeconds: number) => 2 * cacheTtlSeconds + 60;
