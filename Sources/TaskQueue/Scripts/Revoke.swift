import Foundation
import RedisClient

/// Revoke: unless the task already finished, remember the id (workers discard it when they fetch
/// it and cancel it if running) and store the REVOKED document now. Workers hear of it at once on
/// the revoke channel (a channel, not a key); their heartbeats check too.
/// Returns 1, or the final state when the task already finished.
struct Revoke: ListedScriptCall {
    var revoked: String
    var resultKey: String
    var record: String
    var taskID: String
    var now: Double
    var document: [UInt8]
    var ttl: Int
    var channel: String
    var recordUpdate: TaskRecord.Update
    /// The index's fixed keys (`KeySpace.indexKeys`): a revoked task moves to the REVOKED set.
    var indexKeys: [String]
    var index: TaskIndex

    var keys: [RedisArgument] { ([revoked, resultKey, record] + indexKeys).map { RedisArgument($0) } }
    var arguments: [RedisArgument] {
        [RedisArgument(taskID), RedisArgument(now), RedisArgument(document), RedisArgument(ttl), RedisArgument(channel)]
            + [RedisArgument](pairs: recordUpdate.pairs) + index.arguments(now: Date(timeIntervalSince1970: now))
    }

    static let script = RedisScript(name: "revoke", source: KeyTypes.guarding("zsh-")
                                    + TaskIndex.lua(keys: "4", args: "#ARGV - 3") + """
        local current = redis.call('GET', KEYS[2])
        if current then
          local ok, doc = pcall(cjson.decode, current)
          if ok and type(doc) == 'table' and (doc['status'] == 'SUCCESS' or doc['status'] == 'FAILURE') then
            return doc['status']
          end
        end
        redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), ARGV[1])
        local ttl = tonumber(ARGV[4])
        if ttl > 0 then redis.call('SETEX', KEYS[2], ttl, ARGV[3]) else redis.call('SET', KEYS[2], ARGV[3]) end
        redis.call('PUBLISH', KEYS[2], ARGV[3])
        local old = redis.call('HGET', KEYS[3], 'state')
        if #ARGV - 4 >= 7 then redis.call('HSET', KEYS[3], unpack(ARGV, 6, #ARGV - 4)) end
        if ttl > 0 then redis.call('EXPIRE', KEYS[3], ttl) end
        ix_write(ARGV[1], old, 'REVOKED', {})
        ix_trim()
        redis.call('PUBLISH', ARGV[5], ARGV[1])
        return 1
        """)
}
