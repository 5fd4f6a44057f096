import RedisClient

/// Requeue a dead letter: remove the entry and push its message to its queue, in one step.
/// The caller reads the entry first and passes the target list (the priority band, computed by
/// `PriorityBands` — kombu's rule lives in Swift only); the script removes exactly that entry, so
/// a second call, or a racing one, pushes nothing. Returns 1, or 0 when the entry is gone.
struct RequeueDeadLetter: ListedScriptCall {
    var deadLetters: String
    var list: String
    /// The entry exactly as stored.
    var entry: [UInt8]
    var message: [UInt8]

    var keys: [RedisArgument] { [RedisArgument(deadLetters), RedisArgument(list)] }
    var arguments: [RedisArgument] { [RedisArgument(entry), RedisArgument(message)] }

    static let script = RedisScript(name: "requeue_dead_letter", source: KeyTypes.guarding("ll") + """
        if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
        redis.call('LPUSH', KEYS[2], ARGV[2])
        return 1
        """)
}
