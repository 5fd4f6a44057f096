import Foundation
import RedisClient

/// Publish a message: the LPUSH, its PENDING record and its entry in the history index
/// (`TaskIndex`: the `all`, PENDING, task-name and queue sets) in one step. Returns 1.
struct Enqueue: ScriptCall {
    var list: String
    var record: String
    /// The index sets the task joins (task name, queue).
    var sets: [String]
    /// The index's fixed keys (`KeySpace.indexKeys`).
    var indexKeys: [String]
    var taskID: String
    var envelope: [UInt8]
    /// Seconds the record lives; 0 keeps it.
    var recordTTL: Int
    var recordPairs: [(TaskRecord.Field, String)]
    var index: TaskIndex
    var now: Date

    /// KEYS: list, record, the index sets, the index's fixed keys. ARGV: envelope, record TTL, task id,
    /// the number of index sets, the index's four arguments, then the record pairs.
    func write(to arguments: inout RESPArguments) -> Int {
        arguments.append(list)
        arguments.append(record)
        for set in sets { arguments.append(set) }
        for key in indexKeys { arguments.append(key) }
        arguments.append(envelope)
        arguments.append(recordTTL)
        arguments.append(taskID)
        arguments.append(sets.count)
        index.write(now: now, to: &arguments)
        arguments.append(pairs: recordPairs)
        return 2 + sets.count + indexKeys.count
    }

    static let script = RedisScript(name: "enqueue", source: KeyTypes.guarding("lh-")
                                    + TaskIndex.lua(keys: "#KEYS - \(TaskIndex.stateSets.count)", args: "5") + """
        redis.call('LPUSH', KEYS[1], ARGV[1])
        if #ARGV > 8 then redis.call('HSET', KEYS[2], unpack(ARGV, 9)) end
        local ttl = tonumber(ARGV[2])
        if ttl > 0 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
        local sets = {}
        for j = 1, tonumber(ARGV[4]) do sets[j] = KEYS[2 + j] end
        ix_write(ARGV[3], false, 'PENDING', sets)
        ix_trim()
        return 1
        """)
}
