/*
 * The Lua scripts the registry runs on the server (EVALSHA, loaded on first use by ioredis).
 *
 * Why scripts rather than plain HSET/HGETALL:
 * - Expiry is measured on the server's clock (TIME), so hosts whose clocks disagree do not drop
 *   each other's entries: every expiry value is "server epoch ms".
 * - A write and its PUBLISH are one atomic step, and a renewal publishes only when the entry was
 *   missing or expired (subscribers had dropped it), so steady renewals cost subscribers nothing.
 * - Reads are paged (HSCAN) and filtered on the server: a field longer than the limit never
 *   crosses the network, only its first 100 bytes for the warning.
 * - Removal of an expired entry is compare-and-delete: a renewal that lands between a reader
 *   seeing the entry expired and the HDEL is not undone.
 *
 * Values: decimal digits only. `0` marks an entry that never expires (routers, configurators);
 * anything else is the server epoch ms after which the entry is dead.
 */

/** Server time in ms, as a Lua number (exact: epoch ms fit in a double's 53 bits). */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Writes one entry. KEYS[1] the category hash; ARGV[1] the URL text, ARGV[2] the lease in ms
 * (0: never expires). Publishes `register` on the hash's channel when the entry was not live
 * before. Returns the value written.
 */
export const PUT_SCRIPT = `${NOW}
local lease = tonumber(ARGV[2])
local value = '0'
if lease > 0 then value = string.format('%.0f', now + lease) end
local old = redis.call('HGET', KEYS[1], ARGV[1])
local live = false
if old and string.match(old, '^%d+$') then
  local at = tonumber(old)
  live = at == 0 or at > now
end
redis.call('HSET', KEYS[1], ARGV[1], value)
if not live then redis.call('PUBLISH', KEYS[1], 'register') end
return value`;

/** Removes one entry. KEYS[1] the category hash; ARGV[1] the URL text. Publishes `unregister` when it existed. */
export const DELETE_SCRIPT = `local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if removed > 0 then redis.call('PUBLISH', KEYS[1], 'unregister') end
return removed`;

/**
 * Removes entries that are still expired now. KEYS[1] the category hash; ARGV the URL texts a
 * reader saw expired. Publishes `unregister` once when any went. Returns how many went.
 */
export const EXPIRE_SCRIPT = `${NOW}
local removed = 0
for i = 1, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and string.match(v, '^%d+$') then
    local at = tonumber(v)
    if at > 0 and at <= now then removed = removed + redis.call('HDEL', KEYS[1], ARGV[i]) end
  end
end
if removed > 0 then redis.call('PUBLISH', KEYS[1], 'unregister') end
return removed`;

/**
 * One page of a category hash. KEYS[1] the hash; ARGV[1] the HSCAN cursor, ARGV[2] the page size
 * hint, ARGV[3] the longest field accepted, ARGV[4] the longest value accepted. Returns
 * `[cursor, now ms, HLEN, {field, value, ...}, {field prefix, size, ...}]`: the last list names
 * entries that were too long, by their first 100 bytes and their full size.
 */
export const READ_SCRIPT = `${NOW}
local scan = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local maxField = tonumber(ARGV[3])
local maxValue = tonumber(ARGV[4])
local kept = {}
local oversized = {}
local items = scan[2]
for i = 1, #items, 2 do
  local f = items[i]
  local v = items[i + 1]
  if #f > maxField or #v > maxValue then
    oversized[#oversized + 1] = string.sub(f, 1, 100)
    oversized[#oversized + 1] = #f + #v
  else
    kept[#kept + 1] = f
    kept[#kept + 1] = v
  end
end
return { scan[1], string.format('%.0f', now), redis.call('HLEN', KEYS[1]), kept, oversized }`;

/** The shape ioredis gives back for READ_SCRIPT. */
export type ReadPage = [cursor: string, now: string, length: number, kept: string[], oversized: Array<string | number>];

/**
 * One SCAN page of hash keys. ARGV[1] the cursor, ARGV[2] the MATCH pattern, ARGV[3] the page size
 * hint, ARGV[4] the longest key name returned (longer ones are counted, not sent). Returns
 * `[cursor, {key, ...}, skipped]`.
 */
export const KEYS_SCRIPT = `local scan = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3], 'TYPE', 'hash')
local maxKey = tonumber(ARGV[4])
local kept = {}
local skipped = 0
for _, k in ipairs(scan[2]) do
  if #k > maxKey then skipped = skipped + 1 else kept[#kept + 1] = k end
end
return { scan[1], kept, skipped }`;

/** The shape ioredis gives back for KEYS_SCRIPT. */
export type KeysPage = [cursor: string, keys: string[], skipped: number];
