import RedisClient

/// Moves a held message to the scheduled set (an ETA message received early), releasing the hold
/// in the same step, fenced like `StoreResult`: nothing happens unless the lease is still this token.
/// Returns 1, or -1 when the lease passed to another worker.
struct ScheduleHeld: ListedScriptCall {
    var scheduled: String
    var unacked: String
    var unackedIndex: String
    var leases: String
    var due: Double
    /// `list\nenvelope`.
    var member: [UInt8]
    var tag: String
    var leaseToken: String

    var keys: [RedisArgument] { [scheduled, unacked, unackedIndex, leases].map { RedisArgument($0) } }
    var arguments: [RedisArgument] { [RedisArgument(due), RedisArgument(member), RedisArgument(tag), RedisArgument(leaseToken)] }

    static let script = RedisScript(name: "schedule_held", source: KeyTypes.guarding("zhzh") + """
        if redis.call('HGET', KEYS[4], ARGV[3]) ~= ARGV[4] then return -1 end
        redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
        redis.call('HDEL', KEYS[2], ARGV[3])
        redis.call('ZREM', KEYS[3], ARGV[3])
        redis.call('HDEL', KEYS[4], ARGV[3])
        return 1
        """)
}
