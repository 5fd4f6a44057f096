import RedisClient

/// GCRA with reservations, one bucket per task name shared by every worker: each call takes the next
/// free start time for the task and answers how many milliseconds from now it is (0: start now).
/// The theoretical arrival time (TAT, ms on Redis's clock, so workers' clocks do not matter) moves on
/// by one interval per call, so callers that are told to wait each get a distinct, evenly spaced
/// slot — a throttled task can wait in the scheduled set for exactly that time and then run without
/// asking again, and no two waiters wake for the same slot. `burst` tasks may start back to back.
/// The key expires once its TAT is in the past (an idle limiter keeps nothing).
struct ReserveRateSlot: ListedScriptCall {
    /// The task's bucket (`KeySpace.rateBucket`).
    var bucket: String
    /// Milliseconds between two starts (`RateLimit.interval`).
    var intervalMilliseconds: Double
    /// Starts allowed back to back (1: none).
    var burst: Int

    var keys: [RedisArgument] { [RedisArgument(bucket)] }
    var arguments: [RedisArgument] { [RedisArgument(intervalMilliseconds), RedisArgument(burst)] }

    static let script = RedisScript(name: "reserve_rate_slot", source: KeyTypes.guarding("s") + """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local interval = tonumber(ARGV[1])
        local tolerance = interval * (math.max(1, tonumber(ARGV[2])) - 1)
        local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
        if tat < now then tat = now end
        local start = tat - tolerance
        if start < now then start = now end
        local nextTAT = tat + interval
        redis.call('SET', KEYS[1], string.format('%.3f', nextTAT), 'PX', math.max(1, math.ceil(nextTAT - now)))
        return math.ceil(start - now)
        """)
}
