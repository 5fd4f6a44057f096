import RedisClient

/// Writes one `TaskRecord.Update` on each of several task records in one step: the records of a
/// fetched batch, the prefetched tasks the heartbeat marks STARTED, a hand-back. An update with a
/// condition is written only while the record's state is still that (so a task that finished
/// meanwhile keeps its final state). `state` and `attempts` are `TaskRecord.Field` names.
/// Returns how many records were written.
struct UpdateRecords: ScriptCall {
    struct Item: Sendable {
        var record: String
        var update: TaskRecord.Update
        /// Written only while the record's state is this one.
        var onlyIf: String = ""
    }

    var items: [Item]
    /// Seconds the records live from now (Celery's `result_expires`); 0 leaves their expiry.
    var ttl: Int

    var keys: [RedisArgument] { items.map { RedisArgument($0.record) } }
    var arguments: [RedisArgument] {
        [RedisArgument(ttl)] + items.flatMap { item -> [RedisArgument] in
            let pairs = [RedisArgument](pairs: item.update.pairs)
            return [RedisArgument(item.update.attemptsDelta), RedisArgument(item.onlyIf), RedisArgument(pairs.count)] + pairs
        }
    }

    /// Not waited for by `--min-replicas-ack`: record marks (RECEIVED, STARTED, handed back) are
    /// bookkeeping that the final store overwrites; a lost one never loses a task.
    static let needsReplicaAck = false

    static let script = RedisScript(name: "update_records", source: KeyTypes.guarding("h") + """
        local ttl = tonumber(ARGV[1])
        local a = 2
        local written = 0
        for i = 1, #KEYS do
          local delta, condition, n = tonumber(ARGV[a]), ARGV[a + 1], tonumber(ARGV[a + 2])
          if condition == '' or redis.call('HGET', KEYS[i], 'state') == condition then
            if n > 0 then redis.call('HSET', KEYS[i], unpack(ARGV, a + 3, a + 2 + n)) end
            if delta ~= 0 then redis.call('HINCRBY', KEYS[i], 'attempts', delta) end
            if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl) end
            written = written + 1
          end
          a = a + 3 + n
        end
        return written
        """)
}
