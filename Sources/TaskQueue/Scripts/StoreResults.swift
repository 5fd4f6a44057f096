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
/// The acks of the stored members are written together after the loop, one call per key (a script
/// is atomic, so nobody sees the difference; it saves four calls per member).
/// Returns one reply per member, in order.
struct StoreResults: ScriptCall {
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

    /// KEYS: five shared keys, then each member's result key and record, then the index keys and the
    /// throughput hash. ARGV: the TTL, then per member: document, state, tag, token, id, the number of
    /// record arguments, those; then the index's four arguments. Written straight into RESP.
    func write(to arguments: inout RESPArguments) -> Int {
        let start = arguments.count
        for key in [unacked, unackedIndex, leases, crashes, revoked] { arguments.append(key) }
        for m in members {
            arguments.append(m.resultKey)
            arguments.append(m.record)
        }
        for key in indexKeys { arguments.append(key) }
        arguments.append(throughput)
        let keyCount = arguments.count - start
        arguments.append(ttl)
        for m in members {
            arguments.append(m.document)
            arguments.append(m.state)
            arguments.append(m.tag)
            arguments.append(m.leaseToken)
            arguments.append(m.taskID)
            arguments.append(m.recordPairs.count * 2)
            arguments.append(pairs: m.recordPairs)
        }
        index.write(now: now, to: &arguments)
        return keyCount
    }

    /// Keys after the members': the index's `all` set, its state sets, the throughput hash.
    static let trailingKeys = 1 + TaskIndex.stateSets.count + 1

    static let script = RedisScript(name: "store_results", source: TaskIndex.countLua + """
        local function wrongType(key, want)
          local got = redis.call('TYPE', key)['ok']
          if got ~= 'none' and got ~= want then
            return 'WRONGTYPE ' .. key .. ' holds a ' .. got .. ', not a ' .. want .. '; nothing written'
          end
        end
        -- The shared keys: a length read fails only on a wrong type and answers a number (TYPE answers a
        -- table, and every table a call makes costs Redis ~2k instructions of garbage collection).
        for i = 1, 5 do
          local zset = i == 2 or i == 5
          if type(redis.pcall(zset and 'ZCARD' or 'HLEN', KEYS[i])) == 'table' then
            local err = wrongType(KEYS[i], zset and 'zset' or 'hash')
            if err then return redis.error_reply(err) end
          end
        end

        """ + TaskIndex.lua(keys: "#KEYS - \(trailingKeys) + 1", args: "#ARGV - 3") + """
        local ttl = tonumber(ARGV[1])
        local members = (#KEYS - 5 - \(trailingKeys)) / 2
        -- The leases of the fenced tags and which ids are revoked: one read each for the batch (the
        -- script writes neither key before its last line; a tag released earlier in the call is
        -- `released`, below).
        local at, tags, ids, indexed = {}, {}, {}, {}
        do
          local a = 2
          for m = 1, members do
            at[m] = a
            if ARGV[a + 2] ~= '' and ARGV[a + 3] ~= '' then tags[#tags + 1] = ARGV[a + 2] end
            if ARGV[a + 1] ~= 'REVOKED' then ids[#ids + 1] = ARGV[a + 4] end
            -- A state with a set of its own (FAILURE…) needs the task's score in `all`.
            if not IX.unset[ARGV[a + 1]] then indexed[#indexed + 1] = ARGV[a + 4] end
            a = a + 6 + tonumber(ARGV[a + 5])
          end
        end
        local leaseOf, revoked = {}, {}
        if #tags > 0 then
          local got = redis.call('HMGET', KEYS[3], unpack(tags))
          for i, tag in ipairs(tags) do leaseOf[tag] = got[i] end
        end
        if #ids > 0 then
          local got = redis.call('ZMSCORE', KEYS[5], unpack(ids))
          for i, id in ipairs(ids) do if got[i] then revoked[id] = true end end
        end
        if #indexed > 1 then ix_prefetch(indexed) end
        -- The holds released so far: acked with one call per key after the loop (a call per key and
        -- member costs as much as the rest of a member); a tag released earlier in this call counts as
        -- no longer held by anyone, exactly as if its lease were already deleted.
        -- `leaving[set]`: the ids that leave a state set for a state without one (see `store`).
        local released, acked, leaving = {}, {}, {}
        -- A member's own keys are read before anything of it is written, through pcall: one of the wrong
        -- type is its error reply (named by TYPE, only then). The result key is read only when its value
        -- matters: a new document is written with `SET NX` first, which succeeds in the common case (no
        -- document yet, so no wrong type either) and spares the read; only when one is there is it read
        -- and checked as before (a SUCCESS is never overwritten).
        local function unreadable(reply, key, want)
          if type(reply) == 'table' and reply.err then return wrongType(key, want) or reply.err end
        end
        local function readResult(resultKey)
          local current = redis.pcall('GET', resultKey)
          return current, unreadable(current, resultKey, 'string')
        end
        local function release(tag)
          if tag ~= '' and not released[tag] then
            released[tag] = true
            acked[#acked + 1] = tag
          end
        end
        local function store(resultKey, record, doc, state, tag, token, id, first, last)
          local current, err = nil, nil
          -- Answers that depend on the result key (or write no document) read it first, as the type check.
          local fenced = tag ~= '' and token ~= '' and (released[tag] or leaseOf[tag] ~= token)
          local isRevoked = state ~= 'REVOKED' and revoked[id]
          if doc == '' or fenced or isRevoked then
            current, err = readResult(resultKey)
            if err then return redis.error_reply(err) end
          end
          local old = redis.pcall('HGET', record, 'state')
          err = unreadable(old, record, 'hash')
          if err then return redis.error_reply(err) end
          if fenced then
            if doc ~= '' and current == doc then return 1 end
            return -1
          end
          if isRevoked then
            release(tag)
            return 2
          end
          if doc ~= '' then
            local set
            if ttl > 0 then set = redis.call('SET', resultKey, doc, 'NX', 'EX', ARGV[1]) else set = redis.call('SET', resultKey, doc, 'NX') end
            if not set then
              current, err = readResult(resultKey)
              if err then return redis.error_reply(err) end
              if current then
                local ok, previous = pcall(cjson.decode, current)
                if ok and type(previous) == 'table' and previous['status'] == 'SUCCESS' then
                  release(tag)
                  return 0
                end
              end
              if ttl > 0 then redis.call('SETEX', resultKey, ARGV[1], doc) else redis.call('SET', resultKey, doc) end
            end
            redis.call('PUBLISH', resultKey, doc)
          end
          release(tag)
          if last >= first then redis.call('HSET', record, unpack(ARGV, first, last)) end
          if ttl > 0 then redis.call('EXPIRE', record, ARGV[1]) end
          -- The usual completion (a state without a set, SUCCESS, leaving one: STARTED…) only leaves
          -- that set: its id goes into the set's `leaving` list, removed with one ZREM per set after the
          -- loop, before what `ix_write` staged — so an id that `ix_write` already staged in that set
          -- (an earlier member of this batch) takes `ix_write`'s path too, and the last write still wins.
          if IX.unset[state] and old and not IX.unset[old] then
            local states = ix_states()
            local from = states[old] or states.STARTED
            local p = IX.pending[from]
            if p == nil or p.op[id] == nil then
              local ids = leaving[from]
              if ids == nil then ids = {}; leaving[from] = ids end
              ids[#ids + 1] = id
            else
              ix_write(id, old, state, IX_NONE)
            end
          else
            ix_write(id, old, state, IX_NONE)
          end
          tp_count(state)
          return 1
        end
        local out = {}
        for m = 1, members do
          local resultKey, record, a = KEYS[4 + 2 * m], KEYS[5 + 2 * m], at[m]
          local count = tonumber(ARGV[a + 5])
          out[m] = store(resultKey, record, ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], a + 6, a + 5 + count)
        end
        for i = 1, #acked, 1000 do
          local tags = {unpack(acked, i, math.min(i + 999, #acked))}
          redis.call('HDEL', KEYS[1], unpack(tags))
          redis.call('ZREM', KEYS[2], unpack(tags))
          redis.call('HDEL', KEYS[3], unpack(tags))
          redis.call('HDEL', KEYS[4], unpack(tags))
        end
        for key, ids in pairs(leaving) do
          for i = 1, #ids, 1000 do ix_call('ZREM', key, unpack(ids, i, math.min(i + 999, #ids))) end
        end
        ix_trim()
        tp_flush(KEYS[#KEYS])
        return out
        """)
}
