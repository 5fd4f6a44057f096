import RedisClient

/// Take or renew the beat leader lease. A free lease is taken with a new fence (the counter's next
/// value), so every leadership has its own token `<fence>:<owner>`; the holder renews it by owner.
/// Returns the token held by this owner now, or nil when another owner holds the lease.
struct AcquireLease: ListedScriptCall {
    var lease: String
    var fence: String
    var owner: String
    var milliseconds: Int

    var keys: [RedisArgument] { [RedisArgument(lease), RedisArgument(fence)] }
    var arguments: [RedisArgument] { [RedisArgument(owner), RedisArgument(milliseconds)] }

    static let script = RedisScript(name: "acquire_lease", source: KeyTypes.guarding("ss") + """
        local current = redis.call('GET', KEYS[1])
        if current then
          local sep = string.find(current, ':', 1, true)
          if sep and string.sub(current, sep + 1) == ARGV[1] then
            redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
            return current
          end
          return false
        end
        local token = redis.call('INCR', KEYS[2]) .. ':' .. ARGV[1]
        redis.call('SET', KEYS[1], token, 'PX', tonumber(ARGV[2]))
        return token
        """)
}

/// Give the lease up at once (a beat stopping cleanly), if it is still this token: a standby need
/// not wait for it to expire.
struct ReleaseLease: ListedScriptCall {
    var lease: String
    var token: String

    var keys: [RedisArgument] { [RedisArgument(lease)] }
    var arguments: [RedisArgument] { [RedisArgument(token)] }

    static let script = RedisScript(name: "release_lease", source: KeyTypes.guarding("s") + """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """)
}
