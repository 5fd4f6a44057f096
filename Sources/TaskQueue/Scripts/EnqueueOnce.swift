import RedisClient

/// Publish a message unless its claim key is taken already: the claim, the LPUSH and the PENDING
/// record (and, optionally, an app's own hash) in one step, so a retried submission never publishes
/// twice and an app's row never exists without its task. Used for idempotency keys (`POST /tasks`
/// with `Idempotency-Key`) and by apps (the `/register` example claims the email address).
/// Returns the value now stored under the claim key: the new one, or the one claimed first.
struct EnqueueOnce: ScriptCall {
    var claim: String
    var list: String
    var record: String
    /// An app's hash written with the task (only when `hashPairs` is not empty).
    var hash: String?
    /// Stored under `claim`: the task id (idempotency) or the app's own id.
    var claimValue: String
    /// Seconds the claim lives; 0 keeps it.
    var claimTTL: Int
    var envelope: [UInt8]
    var recordTTL: Int
    var recordPairs: [(TaskRecord.Field, String)]
    var hashPairs: [(String, String)] = []

    var keys: [RedisArgument] { ([claim, list, record] + (hash.map { [$0] } ?? [])).map { RedisArgument($0) } }
    var arguments: [RedisArgument] {
        let record = [RedisArgument](pairs: recordPairs)
        return [RedisArgument(claimValue), RedisArgument(claimTTL), RedisArgument(envelope), RedisArgument(recordTTL),
                RedisArgument(record.count)] + record + hashPairs.flatMap { [RedisArgument($0.0), RedisArgument($0.1)] }
    }

    static let script = RedisScript(name: "enqueue_once", source: KeyTypes.guarding("slhh") + """
        local existing = redis.call('GET', KEYS[1])
        if existing then return existing end
        local n = tonumber(ARGV[5])
        redis.call('LPUSH', KEYS[2], ARGV[3])
        if n > 0 then redis.call('HSET', KEYS[3], unpack(ARGV, 6, 5 + n)) end
        redis.call('EXPIRE', KEYS[3], tonumber(ARGV[4]))
        if KEYS[4] and #ARGV > 5 + n then redis.call('HSET', KEYS[4], unpack(ARGV, 6 + n)) end
        if tonumber(ARGV[2]) > 0 then
          redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
        else
          redis.call('SET', KEYS[1], ARGV[1])
        end
        return ARGV[1]
        """)
}
