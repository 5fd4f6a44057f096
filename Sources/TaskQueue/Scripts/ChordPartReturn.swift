import RedisClient

/// A chord header task is done: record its part (once per task id and index), and when every part
/// is in, claim the callback for this worker (Celery 5.7's Redis chord keys and rules, so Python
/// and Celeriac workers can share a chord).
/// Returns {-1} after the callback went out, {ready, 0} while waiting, {ready, 1, parts} when claimed.
struct ChordPartReturn: ListedScriptCall {
    /// `celery-taskset-meta-<group>` and its suffixes (see `KeySpace.groupKey`).
    var parts: String, sizeAdjustment: String, size: String, seen: String, group: String, claim: String
    var taskID: String
    /// `[1, id, state, result]`, encoded.
    var part: String
    /// The group index, or '+inf'.
    var index: String
    var chordExpiry: Int
    var groupExpiry: Int
    var claimSeconds: Int
    var claimToken: String

    var keys: [RedisArgument] { [parts, sizeAdjustment, size, seen, group, claim].map { RedisArgument($0) } }
    var arguments: [RedisArgument] {
        [RedisArgument(taskID), RedisArgument(part), RedisArgument(index), RedisArgument(chordExpiry),
         RedisArgument(groupExpiry), RedisArgument(claimSeconds), RedisArgument(claimToken)]
    }

    static let script = RedisScript(name: "chord_part_return", source: KeyTypes.guarding("zssS-s") + """
        if redis.call('GET', KEYS[6]) == 'done' then return {-1} end
        local seen = ARGV[1] .. ':' .. ARGV[3]
        if redis.call('SISMEMBER', KEYS[4], seen) == 0 then
          redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
          redis.call('SADD', KEYS[4], seen)
        end
        local ready = redis.call('ZCARD', KEYS[1])
        if tonumber(ARGV[4]) > 0 then
          for k = 1, 4 do redis.call('EXPIRE', KEYS[k], tonumber(ARGV[4])) end
          if tonumber(ARGV[5]) > 0 then redis.call('EXPIRE', KEYS[5], tonumber(ARGV[5])) end
        end
        local size = redis.call('GET', KEYS[3])
        local diff = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
        if size and ready == tonumber(size) + diff
           and redis.call('SET', KEYS[6], ARGV[7], 'NX', 'EX', tonumber(ARGV[6])) then
          return {ready, 1, redis.call('ZRANGE', KEYS[1], 0, -1)}
        end
        return {ready, 0}
        """)
}
