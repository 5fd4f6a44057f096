import RedisClient

/// Publish one tick of a periodic schedule, fenced and once: nothing is written unless the leader
/// lease is still `token` (a beat that lost its lease while paused cannot publish), and a tick whose
/// claim exists (another leader published it) publishes nothing again. Either way the schedule's last
/// tick moves forward to this due time (never backward). Returns `{1, id}` when published, `{2, id}`
/// when the tick was published before (the first id), `{0}` when this token no longer leads.
struct PublishTick: ListedScriptCall {
    var lease: String
    var claim: String
    var list: String
    var record: String
    var lastTicks: String
    var token: String
    var taskID: String
    var claimTTL: Int
    var envelope: [UInt8]
    var recordTTL: Int
    var recordPairs: [(TaskRecord.Field, String)]
    var schedule: String
    var due: Double

    var keys: [RedisArgument] { [lease, claim, list, record, lastTicks].map { RedisArgument($0) } }
    var arguments: [RedisArgument] {
        let record = [RedisArgument](pairs: recordPairs)
        return [RedisArgument(token), RedisArgument(taskID), RedisArgument(claimTTL), RedisArgument(envelope),
                RedisArgument(recordTTL), RedisArgument(schedule), RedisArgument(due), RedisArgument(record.count)] + record
    }

    static let script = RedisScript(name: "publish_tick", source: KeyTypes.guarding("sslhh") + """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0} end
        local last = tonumber(redis.call('HGET', KEYS[5], ARGV[6]) or '-1')
        if tonumber(ARGV[7]) > last then redis.call('HSET', KEYS[5], ARGV[6], ARGV[7]) end
        local existing = redis.call('GET', KEYS[2])
        if existing then return {2, existing} end
        local n = tonumber(ARGV[8])
        redis.call('LPUSH', KEYS[3], ARGV[4])
        if n > 0 then redis.call('HSET', KEYS[4], unpack(ARGV, 9, 8 + n)) end
        redis.call('EXPIRE', KEYS[4], tonumber(ARGV[5]))
        redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ARGV[3]))
        return {1, ARGV[2]}
        """)
}
