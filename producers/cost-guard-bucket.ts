/**
 * A shared token bucket per persona in Redis (GCRA, one key holding the theoretical arrival time),
 * so every replica of a service shares one rate. Time comes from the Redis server, not the client.
 * A request that would wait longer than `max_wait` is refused without reserving a slot; otherwise
 * its slot is reserved and the caller sleeps the returned wait.
 *
 * KEYS[1] bucket key; ARGV: interval ms (60000 / rpm), burst (requests), max wait ms.
 * Returns { allowed (1|0), wait ms }.
 */
export const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - burst * interval - now
if wait < 0 then wait = 0 end
if wait > max_wait then return {0, wait} end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
return {1, wait}
`;

export const BUCKET_KEY_PREFIX = 'finops:guard:bucket:';

export function bucketParams(requestsPerMinute: number, burstSeconds: number): { intervalMs: number; burst: number } {
  const intervalMs = Math.max(1, Math.round(60_000 / requestsPerMinute));
  const burst = Math.max(1, Math.floor((requestsPerMinute * burstSeconds) / 60));
  return { intervalMs, burst };
}
