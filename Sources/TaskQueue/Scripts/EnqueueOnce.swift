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

    /// Claim, list, record, the app's hash (the record again when there is none), then the index sets
    /// and the index's fixed keys.
    var keys: [RedisArgument] { ([claim, list, record, hash ?? record] + sets + indexKeys).map { RedisArgument($0) } }
    var arguments: [RedisArgument] {
        let record = [RedisArgument](pairs: recordPairs)
        return [RedisArgument(claimValue), RedisArgument(claimTTL), RedisArgument(envelope), RedisArgument(recordTTL),
                RedisArgument(record.count)] + record + hashPairs.flatMap { [RedisArgument($0.0), RedisArgument($0.1)] }
            + [RedisArgument(taskID), RedisArgument(sets.count)] + index.arguments(now: now)
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
