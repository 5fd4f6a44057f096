import Foundation
import RedisClient

/// Store a result document unless a SUCCESS is already stored; publish it; update the task record;
/// and, when a delivery tag is given, acknowledge that message — all in one atomic step, so a
/// result is never stored without its ack or acked without its result.
/// Fencing: with a lease token, nothing is written unless the lease on the tag is still this token
/// (a worker whose lease was taken over must not overwrite the newer attempt); returns -1 then —
/// unless this very document is already stored: a retry of a store that landed but was not confirmed
/// (`--min-replicas-ack`'s WAIT ran out, or the reply was lost) is stored (1), not a lost lease.
/// A revoked task's outcome is not stored (its REVOKED document stays); returns 2 then.
/// A retry also schedules its next attempt here, so a retry is never scheduled by a fenced-out
/// worker, nor lost or doubled by a crash between scheduling and ack.
/// With `keepHold` the lease is checked but the message stays held (a chord part's result is
/// stored before the chord hears of it, and acked after).
/// A stored outcome moves the task between the history index's state sets (`TaskIndex`) and counts
/// a SUCCESS or FAILURE in this minute's throughput hash.
/// Returns 1 when stored, 0 when a SUCCESS was already there (the ack, if any, done).
struct StoreResult: ListedScriptCall {
    var resultKey: String
    var record: String
    var unacked: String
    var unackedIndex: String
    var leases: String
    var crashes: String
    var revoked: String
    var scheduled: String
    /// The document; empty writes none (ignore_result).
    var document: [UInt8]
    var ttl: Int
    var state: String
    /// The held message to ack, or '' for none.
    var tag: String
    /// The holder's lease token, or '' for no fencing.
    var leaseToken: String
    var taskID: String
    /// A retry's next attempt (`list\nenvelope`), or empty.
    var scheduledMember: [UInt8]
    var due: Double
    var keepHold: Bool
    /// Record field/value pairs, the state among them.
    var recordPairs: [(TaskRecord.Field, String)]
    /// The index's fixed keys (`KeySpace.indexKeys`) and this minute's throughput hash.
    var indexKeys: [String]
    var throughput: String
    var index: TaskIndex
    var now: Date

    var keys: [RedisArgument] {
        ([resultKey, record, unacked, unackedIndex, leases, crashes, revoked, scheduled] + indexKeys + [throughput])
            .map { RedisArgument($0) }
    }
    var arguments: [RedisArgument] {
        [RedisArgument(document), RedisArgument(ttl), RedisArgument(state), RedisArgument(tag), RedisArgument(leaseToken),
         RedisArgument(taskID), RedisArgument(scheduledMember), RedisArgument(due), RedisArgument(keepHold ? "1" : "")]
            + [RedisArgument](pairs: recordPairs) + index.arguments(now: now)
    }

    static let script = RedisScript(name: "store_result", source: KeyTypes.guarding("shhzhhzz-")
                                    + TaskIndex.lua(keys: "9", args: "#ARGV - 3") + TaskIndex.countLua + """
        if ARGV[4] ~= '' then
          if ARGV[5] ~= '' and redis.call('HGET', KEYS[5], ARGV[4]) ~= ARGV[5] then
            if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
            return -1
          end
          if ARGV[9] ~= '1' then
            redis.call('HDEL', KEYS[3], ARGV[4])
            redis.call('ZREM', KEYS[4], ARGV[4])
            redis.call('HDEL', KEYS[5], ARGV[4])
            redis.call('HDEL', KEYS[6], ARGV[4])
          end
        end
        if ARGV[3] ~= 'REVOKED' and redis.call('ZSCORE', KEYS[7], ARGV[6]) then return 2 end
        local ttl = tonumber(ARGV[2])
        if ARGV[1] ~= '' then
          local current = redis.call('GET', KEYS[1])
          if current then
            local ok, doc = pcall(cjson.decode, current)
            if ok and type(doc) == 'table' and doc['status'] == 'SUCCESS' then return 0 end
          end
        end
        if ARGV[7] ~= '' then redis.call('ZADD', KEYS[8], ARGV[8], ARGV[7]) end
        if ARGV[1] ~= '' then
          if ttl > 0 then redis.call('SETEX', KEYS[1], ttl, ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1]) end
          redis.call('PUBLISH', KEYS[1], ARGV[1])
        end
        local old = redis.call('HGET', KEYS[2], 'state')
        if #ARGV - 4 >= 11 then redis.call('HSET', KEYS[2], unpack(ARGV, 10, #ARGV - 4)) end
        if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
        ix_write(ARGV[6], old, ARGV[3], {})
        ix_trim()
        tp_count(ARGV[3])
        tp_flush(KEYS[#KEYS])
        return 1
        """)
}
