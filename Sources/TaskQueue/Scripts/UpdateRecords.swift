import Foundation
import RedisClient

/// Writes one `TaskRecord.Update` on each of several task records in one step: the records of a
/// fetched batch, the prefetched tasks the heartbeat marks STARTED, a hand-back. An update with a
/// condition is written only while the record's state is still that (so a task that finished
/// meanwhile keeps its final state). `state` and `attempts` are `TaskRecord.Field` names.
/// The history index (`TaskIndex`) follows each written record: its state set; a task new to the
/// index enters it with the item's `sets` (a fetch's task name and queue); a fetch's worker set is
/// joined every time.
/// Returns how many records were written.
struct UpdateRecords: ListedScriptCall {
    struct Item: Sendable {
        var id: String
        var record: String
        var update: TaskRecord.Update
        /// Written only while the record's state is this one.
        var onlyIf: String = ""
        /// Index sets the task joins if it is new to the index (a fetch: task name, queue).
        var sets: [String] = []
        /// The index set of the worker that fetched it, joined every time.
        var workerSet: String?
    }

    var items: [Item]
    /// Seconds the records live from now (Celery's `result_expires`); 0 leaves their expiry.
    var ttl: Int
    /// The index's fixed keys (`KeySpace.indexKeys`).
    var indexKeys: [String]
    var index: TaskIndex
    var now = Date()

    /// The records, then every item's sets and worker set in item order, then the index's fixed keys.
    var keys: [RedisArgument] {
        (items.map(\.record) + items.flatMap { $0.sets + ($0.workerSet.map { [$0] } ?? []) } + indexKeys).map { RedisArgument($0) }
    }
    var arguments: [RedisArgument] {
        [RedisArgument(ttl), RedisArgument(items.count)] + items.flatMap { item -> [RedisArgument] in
            let pairs = [RedisArgument](pairs: item.update.pairs)
            return [RedisArgument(item.id), RedisArgument(item.update.attemptsDelta), RedisArgument(item.onlyIf),
                    RedisArgument(item.sets.count), RedisArgument(item.workerSet == nil ? 0 : 1), RedisArgument(pairs.count)] + pairs
        } + index.arguments(now: now)
    }

    /// Not waited for by `--min-replicas-ack`: record marks (RECEIVED, STARTED, handed back) are
    /// bookkeeping that the final store overwrites; a lost one never loses a task.
    static let needsReplicaAck = false

    static let script = RedisScript(name: "update_records", source: """
        local ttl, count = tonumber(ARGV[1]), tonumber(ARGV[2])
        for i = 1, count do
          local got = redis.call('TYPE', KEYS[i])['ok']
          if got ~= 'none' and got ~= 'hash' then
            return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got .. ', not a hash; nothing written')
          end
        end

        """ + TaskIndex.lua(keys: "#KEYS - \(TaskIndex.stateSets.count)", args: "#ARGV - 3") + """
        local a, s = 3, count + 1
        local written = 0
        for i = 1, count do
          local id, delta, condition = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2]
          local nsets, nworker, n = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
          local old = redis.call('HGET', KEYS[i], 'state')
          if condition == '' or old == condition then
            if n > 0 then redis.call('HSET', KEYS[i], unpack(ARGV, a + 6, a + 5 + n)) end
            if delta ~= 0 then redis.call('HINCRBY', KEYS[i], 'attempts', delta) end
            if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl) end
            local sets = {}
            for j = 1, nsets do sets[j] = KEYS[s + j - 1] end
            local always = nil
            if nworker > 0 then always = KEYS[s + nsets] end
            local new = nil
            if n > 0 and ARGV[a + 6] == 'state' then new = ARGV[a + 7] end
            ix_write(id, old, new, sets, always)
            written = written + 1
          end
          a = a + 6 + n
          s = s + nsets + nworker
        end
        ix_trim()
        return written
        """)
}
