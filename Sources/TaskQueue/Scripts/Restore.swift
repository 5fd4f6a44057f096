import RedisClient

/// Hand a held message back to its queue the way kombu's restore does (RPUSH, consumed next),
/// only if this holder still has it (its lease token, or kombu's entry when there is no token).
/// Returns 1, or 0 when the message is no longer this holder's.
struct Restore: ListedScriptCall {
    var unacked: String
    var unackedIndex: String
    var list: String
    var leases: String
    var tag: String
    /// The envelope to push (marked redelivered).
    var envelope: [UInt8]
    /// The holder's lease token, or '' to go by kombu's entry alone.
    var leaseToken: String

    var keys: [RedisArgument] { [unacked, unackedIndex, list, leases].map { RedisArgument($0) } }
    var arguments: [RedisArgument] { [RedisArgument(tag), RedisArgument(envelope), RedisArgument(leaseToken)] }

    static let script = RedisScript(name: "restore", source: KeyTypes.guarding("hzlh") + """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
        if ARGV[3] ~= '' and redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[3] then return 0 end
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('HDEL', KEYS[4], ARGV[1])
        redis.call('RPUSH', KEYS[3], ARGV[2])
        return 1
        """)
}
