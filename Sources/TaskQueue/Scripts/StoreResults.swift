import Foundation
import RedisClient

/// `StoreResult` for several tasks in one call: the plain completions (no retry to schedule, no hold
/// kept for a chord) of tasks that finished close together. Each member is its own atomic step with
/// exactly the single script's rules, and answers alone:
/// - fencing: with a lease token, nothing of that member is written unless the lease on its tag is
///   still this token (-1; but 1 when this very document is already stored: the retry of a store that
///   landed unconfirmed); a fenced-out member neither blocks nor undoes the others;
/// - a revoked task's outcome is not stored, its ack is done (2); a SUCCESS is never overwritten (0);
/// - otherwise the document is SET and PUBLISHed, the record updated and the message acked (1);
/// - a member key of the wrong type is that member's error reply, with nothing of it written.
/// A shared key of the wrong type stops the whole call before anything is written.
/// A stored member moves between the history index's state sets and counts in the throughput hash,
/// as with the single script.
/// Returns one reply per member, in order.
struct StoreResults: ListedScriptCall {
    /// One task's completion: its keys and what the single script takes as ARGV.
    struct Member: Sendable {
        var resultKey: String
        var record: String
        /// The document; empty writes none (ignore_result).
        var document: [UInt8]
        var state: String
        /// The held message to ack, or '' for none.
        var tag: String
        /// The holder's lease token, or '' for no fencing.
        var leaseToken: String
        var taskID: String
        /// Record field/value pairs, the state among them.
        var recordPairs: [(TaskRecord.Field, String)]
    }

    var unacked: String
    var unackedIndex: String
    var leases: String
    var crashes: String
    var revoked: String
    var ttl: Int
    var members: [Member]
    /// The index's fixed keys (`KeySpace.indexKeys`) and this minute's throughput hash.
    var indexKeys: [String]
    var throughput: String
    var index: TaskIndex
    var now: Date

    /// Five shared keys, then each member's result key and record, then the index keys and the throughput hash.
    var keys: [RedisArgument] {
        [unacked, unackedIndex, leases, crashes, revoked].map { RedisArgument($0) }
            + members.flatMap { [RedisArgument($0.resultKey), RedisArgument($0.record)] }
            + (indexKeys + [throughput]).map { RedisArgument($0) }
    }
    /// The TTL, then per member: document, state, tag, token, id, the number of record arguments, those.
    var arguments: [RedisArgument] {
        [RedisArgument(ttl)] + members.flatMap { m in
            [RedisArgument(m.document), RedisArgument(m.state), RedisArgument(m.tag), RedisArgument(m.leaseToken),
             RedisArgument(m.taskID), RedisArgument(m.recordPairs.count * 2)] + [RedisArgument](pairs: m.recordPairs)
        } + index.arguments(now: now)
    }

    /// Keys after the members': the index's `all` set, its state sets, the throughput hash.
    static let trailingKeys = 1 + TaskIndex.buckets.count + 1

    static let script = RedisScript(name: "store_results", source: TaskIndex.countLua + """
        local function wrongType(key, want)
          local got = redis.call('TYPE', key)['ok']
          if got ~= 'none' and got ~= want then
            return 'WRONGTYPE ' .. key .. ' holds a ' .. got .. ', not a ' .. want .. '; nothing written'
          end
        end
        for i, want in ipairs({'hash', 'zset', 'hash', 'hash', 'zset'}) do
          local err = wrongType(KEYS[i], want)
          if err then return redis.error_reply(err) end
        end

        """ + TaskIndex.lua(keys: "#KEYS - \(trailingKeys) + 1", args: "#ARGV - 3") + """
        local ttl = tonumber(ARGV[1])
        local function store(resultKey, record, doc, state, tag, token, id, first, last)
          if tag ~= '' then
            if token ~= '' and redis.call('HGET', KEYS[3], tag) ~= token then
              if doc ~= '' and redis.call('GET', resultKey) == doc then return 1 end
              return -1
            end
            redis.call('HDEL', KEYS[1], tag)
            redis.call('ZREM', KEYS[2], tag)
            redis.call('HDEL', KEYS[3], tag)
            redis.call('HDEL', KEYS[4], tag)
          end
          if state ~= 'REVOKED' and redis.call('ZSCORE', KEYS[5], id) then return 2 end
          if doc ~= '' then
            local current = redis.call('GET', resultKey)
            if current then
              local ok, old = pcall(cjson.decode, current)
              if ok and type(old) == 'table' and old['status'] == 'SUCCESS' then return 0 end
            end
            if ttl > 0 then redis.call('SETEX', resultKey, ttl, doc) else redis.call('SET', resultKey, doc) end
            redis.call('PUBLISH', resultKey, doc)
          end
          local old = redis.call('HGET', record, 'state')
          if last >= first then redis.call('HSET', record, unpack(ARGV, first, last)) end
          if ttl > 0 then redis.call('EXPIRE', record, ttl) end
          ix_write(id, old, state, {})
          tp_count(state)
          return 1
        end
        local out = {}
        local a = 2
        for m = 1, (#KEYS - 5 - \(trailingKeys)) / 2 do
          local resultKey, record = KEYS[4 + 2 * m], KEYS[5 + 2 * m]
          local count = tonumber(ARGV[a + 5])
          local err = wrongType(resultKey, 'string') or wrongType(record, 'hash')
          if err then
            out[m] = redis.error_reply(err)
          else
            out[m] = store(resultKey, record, ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], a + 6, a + 5 + count)
          end
          a = a + 6 + count
        end
        ix_trim()
        tp_flush(KEYS[#KEYS])
        return out
        """)
}
