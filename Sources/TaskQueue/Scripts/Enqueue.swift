import Foundation
import RedisClient

/// Publish messages — one, or every submission that arrived while the previous call was in flight
/// (`EnqueueBatcher`): for each, the LPUSH, its PENDING record and its entry in the history index
/// (`TaskIndex`: the `all`, task-name and queue sets), in one atomic step: one MULTI/EXEC of the lists'
/// LPUSHes and then this script (`publish(on:)`). What a call costs once, not per message: the script's
/// own overhead, the named sets' EXPIREs and the index's ZCARD trim check.
///
/// Each message stands alone: one whose list or record key holds another type gets its own WRONGTYPE
/// error text and nothing of it is written, while the others are published. Returns one reply per
/// message, in order: 1, or that error text.
struct Enqueue: ScriptCall {
    /// One message and its record.
    struct Entry: Sendable {
        var list: String
        var record: String
        /// The index sets the task joins (task name, queue).
        var sets: [String]
        var taskID: String
        var envelope: [UInt8]
        var recordPairs: [(TaskRecord.Field, String)]
        /// When it was submitted: its score in the index.
        var now: Date
    }

    var entries: [Entry]
    /// The index's fixed keys (`KeySpace.indexKeys`); the call passes only the first, `all`.
    var indexKeys: [String]
    /// Seconds the records live; 0 keeps them.
    var recordTTL: Int
    var index: TaskIndex
    /// The LPUSHes of the envelopes ran just before the script, in its transaction (`publish(on:)`): the
    /// script takes back a refused message's envelope. Otherwise (the script run alone, which pushes
    /// nothing) it completes a transaction whose script Redis did not know (NOSCRIPT after a SCRIPT FLUSH):
    /// the envelopes are in their lists already, and a record a worker wrote meanwhile is left as it is.
    var afterPushes = false

    /// KEYS: the lists (each once), the records (one per entry), the named index sets (each once), the
    /// index's `all` set. ARGV: the counts of entries and lists, the record TTL, the index's age cutoff
    /// (ms, at the latest entry's time; 0 none), cap and sets' TTL, 1 when `afterPushes`, then the entries
    /// in runs: per run its length, its list's number, its sets' count and numbers, its record fields'
    /// count and the fields (name, and the value when all of the run share it, else ""), the count and
    /// numbers of the fields whose values vary, then per entry: task id, score (epoch ms), its varying values.
    ///
    /// Every ARGV string becomes a Lua string (allocated, hashed — every byte, in Redis's Lua: about 12
    /// instructions a byte — and paid again in Lua's garbage collector): what a run's messages share goes
    /// once per run, not once per message, and the envelopes (~1 kB each) are not in ARGV at all but in
    /// the LPUSHes just before the script, in the same MULTI/EXEC (`pushes`, `publish(on:)`). (The field
    /// names as one string of codes cost more in Lua than their seven short strings: measured, not kept.)
    func write(to arguments: inout RESPArguments) -> Int {
        var lists: [String: Int] = [:], listOrder: [String] = []
        var sets: [String: Int] = [:], setOrder: [String] = []
        for entry in entries {
            if lists[entry.list] == nil { lists[entry.list] = lists.count + 1; listOrder.append(entry.list) }
            for set in entry.sets where sets[set] == nil { sets[set] = sets.count + 1; setOrder.append(set) }
        }
        arguments.reserveCapacity(entries.reduce(512) { $0 + $1.recordPairs.count * 16 + 128 })
        for list in listOrder { arguments.append(list) }
        for entry in entries { arguments.append(entry.record) }
        for set in setOrder { arguments.append(set) }
        // Only `all` of the index's fixed keys: a submit writes PENDING, which has no state set.
        arguments.append(indexKeys[0])
        arguments.append(entries.count)
        arguments.append(listOrder.count)
        arguments.append(recordTTL)
        let latest = Int(TaskIndex.score(entries.map(\.now).max() ?? Date()))
        arguments.append(index.lifetime > 0 ? latest - index.lifetime * 1000 : 0)
        arguments.append(index.capacity)
        arguments.append(index.lifetime)
        arguments.append(afterPushes ? 1 : 0)
        var start = entries.startIndex
        while start < entries.endIndex {
            let first = entries[start]
            var end = start + 1
            while end < entries.endIndex && Self.sameRun(entries[end], first) { end += 1 }
            let run = entries[start..<end]
            let varying = first.recordPairs.indices.filter { j in run.contains { $0.recordPairs[j].1 != first.recordPairs[j].1 } }
            arguments.append(run.count)
            arguments.append(lists[first.list]!)
            arguments.append(first.sets.count)
            for set in first.sets { arguments.append(sets[set]!) }
            arguments.append(first.recordPairs.count)
            for (j, (field, value)) in first.recordPairs.enumerated() {
                arguments.append(field.rawValue)
                arguments.append(varying.contains(j) ? "" : value)
            }
            arguments.append(varying.count)
            for j in varying { arguments.append(j + 1) }
            for entry in run {
                arguments.append(entry.taskID)
                arguments.append(Int(TaskIndex.score(entry.now)))
                for j in varying { arguments.append(entry.recordPairs[j].1) }
            }
            start = end
        }
        return listOrder.count + entries.count + setOrder.count + 1
    }

    /// One LPUSH per list (in the order the lists first appear, as KEYS has them) of its entries'
    /// envelopes in arrival order: the first is consumed first.
    var pushes: [RESPArguments] {
        var order: [String] = [], byList: [String: [Int]] = [:]
        for (k, entry) in entries.enumerated() {
            if byList[entry.list] == nil { order.append(entry.list) }
            byList[entry.list, default: []].append(k)
        }
        return order.map { list in
            let members = byList[list]!
            var push = RESPArguments(capacity: members.reduce(list.utf8.count + 16) { $0 + entries[$1].envelope.count })
            push.append("LPUSH")
            push.append(list)
            for k in members { push.append(entries[k].envelope) }
            return push
        }
    }

    /// Publishes the entries in one atomic step — MULTI, `pushes`, the script, EXEC — and returns each
    /// one's outcome (nil: published). The script takes back the envelope of each message it refuses
    /// (its record key of another type), so nothing of that message stays; a list of another type
    /// refuses its LPUSH and the script its messages. Should Redis not know the script (NOSCRIPT inside
    /// EXEC, after a SCRIPT FLUSH, the pushes done), a second call completes the records and the index
    /// (EVAL), and a refused message's envelope is removed by LREM.
    func publish(on redis: RedisClient) async throws -> [String?] {
        var call = self
        call.afterPushes = true
        var arguments = RESPArguments()
        let keyCount = call.write(to: &arguments)
        let replies = try await redis.evaluate(Self.script, keyCount: keyCount, arguments: arguments,
                                               confirm: Self.needsReplicaAck, after: pushes)
        guard let reply = replies.last else { throw TaskQueueError.unexpectedReply(operation: "enqueue", reply: "\(replies)") }
        if case .error(let message) = reply {
            guard message.hasPrefix("NOSCRIPT") else { throw RedisError.server(command: "EVALSHA(\(Self.script.name))", message: message) }
            var completion = self
            completion.afterPushes = false
            let outcomes = try Self.outcomes(try await completion.run(on: redis), count: entries.count)
            for (entry, refusal) in zip(entries, outcomes) where refusal != nil {
                _ = try? await redis.send(["LREM", RedisArgument(entry.list), "1", RedisArgument(entry.envelope)])
            }
            return outcomes
        }
        return try Self.outcomes(reply, count: entries.count)
    }

    /// Consecutive entries share a run when they go to the same list and sets with the same record fields.
    static func sameRun(_ a: Entry, _ b: Entry) -> Bool {
        a.list == b.list && a.sets == b.sets && a.recordPairs.count == b.recordPairs.count
            && zip(a.recordPairs, b.recordPairs).allSatisfy { $0.0 == $1.0 }
    }

    /// The replies, one per entry: nil for published, else the error text of the one not published.
    static func outcomes(_ reply: RESPValue, count: Int) throws -> [String?] {
        guard let replies = reply.array, replies.count == count else {
            throw TaskQueueError.unexpectedReply(operation: "enqueue", reply: "\(reply)")
        }
        return replies.map { $0 == .integer(1) ? nil : ($0.string ?? "\($0)") }
    }

    // Types are checked before anything of a message is written (Redis does not roll a script back):
    // each list once, up front; a record by its own HSET, the message's first write, sent with pcall —
    // the records belong to ids made just now, so they almost never exist, and a WRONGTYPE reply (HSET
    // writes nothing then) refuses that message alone, with TYPE read only then. The index keys are not
    // checked (`TaskIndex`). The index writes are the script's own, not `TaskIndex.lua`'s: a submit
    // only enters new tasks, which one ZADD NX into `all` both does and confirms (no score read first,
    // no per-task staging), and the shared preamble's closures and tables cost more than that work.
    static let script = RedisScript(name: "enqueue", source: """
        -- Numbers are read as `x + 0`, not `tonumber(x)`: one string conversion (strtod), not two. Globals used
        -- per message are read into locals once (a global is a table lookup each time).
        local KEYS, ARGV, rcall, rpcall, unpack, type = KEYS, ARGV, redis.call, redis.pcall, unpack, type
        local n, l = ARGV[1] + 0, ARGV[2] + 0
        local function wrongType(i, want)
          local got = rcall('TYPE', KEYS[i])['ok']
          if got ~= 'none' and got ~= want then
            return 'WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got .. ', not a ' .. want .. '; nothing written'
          end
        end
        local refused = {}
        -- A list's type by LLEN, whose reply is a number (TYPE's is a table): TYPE only when it fails.
        for j = 1, l do
          local len = rpcall('LLEN', KEYS[j])
          if type(len) ~= 'number' then refused[j] = wrongType(j, 'list') end
        end
        local ttlText = ARGV[3]
        local ttl = ttlText + 0
        local completing = ARGV[7] ~= '1'
        -- Per published message: `all` gets (score, id) in order, `runOf` its run; per run its sets and its
        -- own (score, id) pairs. Per list: how many envelopes the LPUSH before this script pushed, and the
        -- positions (in push order) of the refused ones, whose envelopes are taken back.
        local replies, pushed, undo, all, runOf, runSets, runAdds = {}, {}, {}, {}, {}, {}, {}
        local at, i = 8, 0
        while i < n do
          local m, list, c = ARGV[at] + 0, ARGV[at + 1] + 0, ARGV[at + 2] + 0
          local sets = {}
          for j = 1, c do sets[j] = KEYS[l + n + ARGV[at + 2 + j] + 0] end
          at = at + 3 + c
          -- The HSET arguments of the run's records: the shared values stay, the varying ones are set per message.
          local f2 = 2 * (ARGV[at] + 0)
          local fields = {}
          for j = 1, f2 do fields[j] = ARGV[at + j] end
          at = at + f2 + 1
          local v = ARGV[at] + 0
          local slots = {}
          for j = 1, v do slots[j] = 2 * (ARGV[at + j] + 0) end
          at = at + v + 1
          local run = #runSets + 1
          runSets[run] = sets
          local adds = {}
          runAdds[run] = adds
          local count = pushed[list] or 0
          local listRefusal = refused[list]
          for _ = 1, m do
            i = i + 1
            count = count + 1
            local refusal = listRefusal
            local key = KEYS[l + i]
            -- Completing: a record there already is a worker's, which took the message meanwhile: kept.
            local keep = false
            if completing and not refusal then
              local got = rcall('TYPE', key)['ok']
              if got == 'hash' then keep = true elseif got ~= 'none' then refusal = wrongType(l + i, 'hash') end
            end
            if not refusal and not keep then
              -- The record's first write, with pcall: a WRONGTYPE reply (HSET writes nothing then) refuses this
              -- message alone, with TYPE read only then; another error fails the call, as redis.call would have.
              if f2 > 0 then
                for j = 1, v do fields[slots[j]] = ARGV[at + 1 + j] end
                local reply = rpcall('HSET', key, unpack(fields, 1, f2))
                if type(reply) == 'table' and reply.err then
                  refusal = wrongType(l + i, 'hash')
                  if not refusal then error(reply) end
                end
              else
                refusal = wrongType(l + i, 'hash')
              end
              if not refusal and ttl > 0 then rcall('EXPIRE', key, ttlText) end
            end
            if refusal then
              replies[i] = refusal
              if not listRefusal then
                local gone = undo[list]
                if gone == nil then gone = {}; undo[list] = gone end
                gone[count] = true
              end
            else
              local id, score, k = ARGV[at], ARGV[at + 1], #all
              all[k + 1], all[k + 2] = score, id
              k = #adds
              adds[k + 1], adds[k + 2] = score, id
              runOf[#runOf + 1] = run
              replies[i] = 1
            end
            at = at + 2 + v
          end
          pushed[list] = count
        end
        -- The refused messages' envelopes go back out of their lists (rare: a record key of another type).
        -- The LPUSH ran just before, in the same transaction: a list's newest `count` elements are its pushes,
        -- newest first; the kept ones go back in their order (completing, the caller removes them instead).
        if not completing then
          for j, gone in pairs(undo) do
            local count = pushed[j]
            local got = rcall('LPOP', KEYS[j], count)
            local kept = {}
            for k = 1, count do
              if not gone[k] then kept[#kept + 1] = got[count - k + 1] end
            end
            for first = 1, #kept, 500 do
              rcall('LPUSH', KEYS[j], unpack(kept, first, math.min(first + 499, #kept)))
            end
          end
        end
        if #all == 0 then return replies end
        -- The index (`TaskIndex`), as one call per message would leave it: a task new to `all` enters it and
        -- its sets at its own score; a known one, or an id repeated in the batch, is left as it is. Its writes
        -- never fail the call: a wrong-typed index key leaves tasks out of the history, nothing more.
        local function zadd(key, adds, nx)
          local added = 0
          for x = 1, #adds, 2000 do
            local reply
            if nx then
              reply = rpcall('ZADD', key, 'NX', unpack(adds, x, math.min(x + 1999, #adds)))
            else
              reply = rpcall('ZADD', key, unpack(adds, x, math.min(x + 1999, #adds)))
            end
            if type(reply) ~= 'number' then return nil end
            added = added + reply
          end
          return added
        end
        local allKey = KEYS[#KEYS]
        -- The ids are fresh (new task ids): ZADD NX enters them all, and its count says so. Only when it
        -- entered fewer (an id seen before, or twice here) are the scores read back: an id is new when `all`
        -- holds it at its own score, the first time it comes.
        local added = zadd(allKey, all, true)
        if added == nil or added == 0 then return replies end
        if added < #all / 2 then
          local ids = {}
          for k = 2, #all, 2 do ids[k / 2] = all[k] end
          local got = rpcall('ZMSCORE', allKey, unpack(ids))
          if type(got) ~= 'table' or got.err then return replies end
          local seen = {}
          for r = 1, #runAdds do runAdds[r] = {} end
          for k, id in ipairs(ids) do
            local score = all[2 * k - 1]
            if not seen[id] and got[k] and got[k] + 0 == score + 0 then
              seen[id] = true
              local a = runAdds[runOf[k]]
              a[#a + 1] = score
              a[#a + 1] = id
            end
          end
        end
        -- Each set gets its runs' new tasks in one ZADD (a batch of one run, the usual, adds them as they are).
        local touched = {}
        if #runSets == 1 then
          local a = runAdds[1]
          if #a > 0 then
            for _, key in ipairs(runSets[1]) do zadd(key, a, false); touched[#touched + 1] = key end
          end
        else
          local keyAdds, order = {}, {}
          for run = 1, #runSets do
            local a = runAdds[run]
            if #a > 0 then
              for _, key in ipairs(runSets[run]) do
                local into = keyAdds[key]
                if into == nil then into = {}; keyAdds[key] = into; order[#order + 1] = key end
                for x = 1, #a do into[#into + 1] = a[x] end
              end
            end
          end
          for _, key in ipairs(order) do zadd(key, keyAdds[key], false); touched[#touched + 1] = key end
        end
        -- As `ix_trim` ends a call that entered tasks: every set written keeps members younger than the records'
        -- lifetime and at most `cap`, checked when `all` crosses a multiple of 128 members (or is over the cap);
        -- the named sets live as long as a record written now.
        local cutoffText, capText, ixTTL = ARGV[4], ARGV[5], ARGV[6]
        local cutoff, cap = cutoffText + 0, capText + 0
        local count = rpcall('ZCARD', allKey)
        if type(count) ~= 'number' then count = 0 end
        local floor = math.floor
        if floor(count / 128) > floor((count - added) / 128) or (cap > 0 and count > cap) then
          touched[#touched + 1] = allKey
          for _, key in ipairs(touched) do
            if cutoff > 0 then rpcall('ZREMRANGEBYSCORE', key, '-inf', '(' .. cutoffText) end
            if cap > 0 and (key ~= allKey or count > cap) then rpcall('ZREMRANGEBYRANK', key, 0, -(cap + 1)) end
          end
          touched[#touched] = nil
        end
        if ixTTL + 0 > 0 then
          for _, key in ipairs(touched) do rpcall('EXPIRE', key, ixTTL) end
        end
        return replies
        """)
}
