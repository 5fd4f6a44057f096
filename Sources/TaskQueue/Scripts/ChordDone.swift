import RedisClient

/// The chord callback went out: if the claim is still ours, drop the chord's data and leave a
/// 'done' mark so a late duplicate part cannot start it again. Returns 1, or 0 when the claim is not ours.
struct ChordDone: ListedScriptCall {
    var claim: String, parts: String, sizeAdjustment: String, size: String, seen: String
    var claimToken: String
    var markSeconds: Int

    var keys: [RedisArgument] { [claim, parts, sizeAdjustment, size, seen].map { RedisArgument($0) } }
    var arguments: [RedisArgument] { [RedisArgument(claimToken), RedisArgument(markSeconds)] }

    static let script = RedisScript(name: "chord_done", source: KeyTypes.guarding("szssS") + """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
        redis.call('SET', KEYS[1], 'done', 'EX', tonumber(ARGV[2]))
        return 1
        """)
}
