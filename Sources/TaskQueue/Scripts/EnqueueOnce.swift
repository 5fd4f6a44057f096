import Foundation
import RedisClient

/// Publish a message unless its claim key is taken already: the claim, the LPUSH and the PENDING
/// record (and, optionally, an app's own hash) in one step, so a retried submission never publishes
/// twice and an app's row never exists without its task. Used for idempotency keys (`POST /tasks`
/// with `Idempotency-Key`) and by apps (the `/register` example claims the email address).
/// Returns the value now stored under the claim key: the new one, or the one claimed first.
struct EnqueueOnce: ScriptCall {
    var claim: String
    var list: String
    var record: String
    /// An app's hash written with the task (only when `hashPairs` is not empty).
    var hash: String?
    /// Stored under `claim`: the task id (idempotency) or the app's own id.
    var claimValue: String
    /// Seconds the claim lives; 0 keeps it.
    var claimTTL: Int
    var envelope: [UInt8]
    var recordTTL: Int
    var recordPairs: [(TaskRecord.Field, String)]
    var hashPairs: [(String, String)] = []
    var taskID: String
    /// The index sets the task joins (task name, queue) and the index's fixed keys.
    var sets: [String]
    var indexKeys: [String]
    var index: TaskIndex
    var now: Date

    /// KEYS: claim, list, record, the app's hash (the record again when there is none), then the index
    /// sets and the index's fixed keys. ARGV: claim value and TTL, envelope, record TTL, the number of
    /// record arguments, the record pairs, the hash pairs, task id, the number of index sets, the index's four.
    func write(to arguments: inout RESPArguments) -> Int {
        for key in [claim, list, record, hash ?? record] + sets + indexKeys { arguments.append(key) }
        arguments.append(claimValue)
        arguments.append(claimTTL)
        arguments.append(envelope)
        arguments.append(recordTTL)
        arguments.append(recordPairs.count * 2)
        arguments.append(pairs: recordPairs)
        for (field, value) in hashPairs {
            arguments.append(field)
            arguments.append(value)
        }
        arguments.append(taskID)
        arguments.append(sets.count)
        index.write(now: now, to: &arguments)
        return 4 + sets.count + indexKeys.count
    }

    static let script = RedisScript(name: "enqueue_once", source: KeyTypes.guarding("slhh-")
                                    + TaskIndex.lua(keys: "#KEYS - \(TaskIndex.stateSets.count)", args: "#ARGV - 3") + """
        local existing = redis.call('GET', KEYS[1])
        if existing then return existing end
        local n, last = tonumber(ARGV[5]), #ARGV - 6
        redis.call('LPUSH', KEYS[2], ARGV[3])
        if n > 0 then redis.call('HSET', KEYS[3], unpack(ARGV, 6, 5 + n)) end
        redis.call('EXPIRE', KEYS[3], tonumber(ARGV[4]))
        if last > 5 + n then redis.call('HSET', KEYS[4], unpack(ARGV, 6 + n, last)) end
        local sets = {}
        for j = 1, tonumber(ARGV[last + 2]) do sets[j] = KEYS[4 + j] end
        ix_write(ARGV[last + 1], false, 'PENDING', sets)
        ix_trim()
        if tonumber(ARGV[2]) > 0 then
          redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
        else
          redis.call('SET', KEYS[1], ARGV[1])
        end
        return ARGV[1]
        """)
}
