import Foundation
import RedisClient

/// Publish messages — one, or every submission that arrived while the previous call was in flight
/// (`EnqueueBatcher`): for each, the LPUSH, its PENDING record and its entry in the history index
/// (`TaskIndex`: the `all`, task-name and queue sets), in one atomic step. What a call costs once, not per
/// message: the script's own overhead, the named sets' EXPIREs and the index's ZCARD trim check.
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

    /// KEYS: the lists (each once), the records (one per entry), the named index sets (each once), the
    /// index's `all` set. ARGV: the counts of entries, lists and named sets, the record TTL, the index's
    /// four arguments (at the latest entry's time), then the entries in runs (`Run`): per run its
    /// length, its list's number, its sets' count and numbers, its record fields' count and the fields
    /// (name, and the value when all of the run share it, else ""), the count and numbers of the fields
    /// whose values vary, then per entry: task id, score (epoch ms), envelope, its varying values.
    ///
    /// Every ARGV string becomes a Lua string (allocated, hashed, and paid again in Lua's garbage
    /// collector, per byte): what a run's messages share goes once per run, not once per message.
    func write(to arguments: inout RESPArguments) -> Int {
        var lists: [String: Int] = [:], listOrder: [String] = []
        var sets: [String: Int] = [:], setOrder: [String] = []
        for entry in entries {
            if lists[entry.list] == nil { lists[entry.list] = lists.count + 1; listOrder.append(entry.list) }
            for set in entry.sets where sets[set] == nil { sets[set] = sets.count + 1; setOrder.append(set) }
        }
        arguments.reserveCapacity(entries.reduce(512) { $0 + $1.envelope.count + 128 })
        for list in listOrder { arguments.append(list) }
        for entry in entries { arguments.append(entry.record) }
        for set in setOrder { arguments.append(set) }
        // Only `all` of the index's fixed keys: a submit writes PENDING, which has no state set.
        arguments.append(indexKeys[0])
        arguments.append(entries.count)
        arguments.append(listOrder.count)
        arguments.append(setOrder.count)
        arguments.append(recordTTL)
        index.write(now: entries.map(\.now).max() ?? Date(), to: &arguments)
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
                arguments.append(entry.envelope)
                for j in varying { arguments.append(entry.recordPairs[j].1) }
            }
            start = end
        }
        return listOrder.count + entries.count + setOrder.count + 1
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
    // checked (`TaskIndex`).
    static let script = RedisScript(name: "enqueue", source: """
        -- Numbers are read as `x + 0`, not `tonumber(x)`: one string conversion (strtod), not two.
        local n, l, s = ARGV[1] + 0, ARGV[2] + 0, ARGV[3] + 0
        local function wrongType(i, want)
          local got = redis.call('TYPE', KEYS[i])['ok']
          if got ~= 'none' and got ~= want then
            return 'WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got .. ', not a ' .. want .. '; nothing written'
          end
        end
        local refused = {}
        for j = 1, l do refused[j] = wrongType(j, 'list') end
        -- The record's first write: nil once written, else the refusal (another error fails the call, as
        -- redis.call would have).
        local function writeRecord(i, fields, count)
          if count == 0 then return wrongType(i, 'hash') end
          local reply = redis.pcall('HSET', KEYS[i], unpack(fields, 1, count))
          if type(reply) == 'table' and reply.err then
            local refusal = wrongType(i, 'hash')
            if refusal then return refusal end
            error(reply)
          end
        end

        """ + TaskIndex.lua(keys: "#KEYS", args: "5") + """
        local ttlText = ARGV[4]
        local ttl = ttlText + 0
        -- Per published message, in flat arrays (no table per message): its id, score and run; per run its sets.
        local replies, pushes = {}, {}
        local ids, scores, runOf, runSets = {}, {}, {}, {}
        local at, i = 9, 0
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
          local slots = IX_NONE
          if v > 0 then
            slots = {}
            for j = 1, v do slots[j] = 2 * (ARGV[at + j] + 0) end
          end
          at = at + v + 1
          local run = #runSets + 1
          runSets[run] = sets
          local batch = pushes[list]
          if batch == nil then batch = {}; pushes[list] = batch end
          for _ = 1, m do
            i = i + 1
            for j = 1, v do fields[slots[j]] = ARGV[at + 2 + j] end
            local refusal = refused[list] or writeRecord(l + i, fields, f2)
            if refusal then
              replies[i] = refusal
            else
              if ttl > 0 then redis.call('EXPIRE', KEYS[l + i], ttlText) end
              local k = #ids + 1
              ids[k], scores[k], runOf[k] = ARGV[at], ARGV[at + 1], run
              batch[#batch + 1] = ARGV[at + 2]
              replies[i] = 1
            end
            at = at + 3 + v
          end
        end
        -- Each list gets its messages in arrival order (the first is consumed first), in pushes that
        -- stay within Lua's stack.
        for j, batch in pairs(pushes) do
          for first = 1, #batch, 500 do
            redis.call('LPUSH', KEYS[j], unpack(batch, first, math.min(first + 499, #batch)))
          end
        end
        -- The index, as `ix_write` writes a submit: a task new to `all` enters it and its sets at its own
        -- score; a known one, or an id repeated in the batch, is left as it is. Every id's score is read in
        -- one call first; the new ones (all of them, but for a reused id) go straight into one ZADD per
        -- set (a run's sets get the run's new tasks), without `ix_stage`'s per-message bookkeeping. An id
        -- whose score could not be read (a wrong-typed `all`) takes `ix_write`'s own path. (A lone message
        -- too is read first: `ix_write`'s ZADD NX would save that call but cost more in staging tables.)
        ix_prefetch(ids)
        local runAdds, all = {}, {}
        for k, id in ipairs(ids) do
          local known = IX.scores[id]
          if known == false then
            local score, run = scores[k], runOf[k]
            IX.scores[id] = score
            local a = runAdds[run]
            if a == nil then a = {}; runAdds[run] = a end
            a[#a + 1] = score
            a[#a + 1] = id
            all[#all + 1] = score
            all[#all + 1] = id
          elseif known == nil then
            ix_write(id, false, 'PENDING', runSets[runOf[k]], nil, scores[k])
          end
        end
        -- As `ix_stage` marks them: the named sets expire when unused, `all` is trimmed only.
        if #all > 0 then
          ix_zadd(IX.all, all)
          IX.touched[IX.all] = IX.touched[IX.all] or false
        end
        -- A set shared by several runs (a queue of several task names) gets their tasks in one ZADD; a
        -- batch of one run (the usual: one task to one queue) adds its tasks to its sets as they are.
        if #runSets == 1 then
          local a = runAdds[1]
          if a then
            for _, key in ipairs(runSets[1]) do
              ix_zadd(key, a)
              IX.touched[key] = true
            end
          end
          ix_trim()
          return replies
        end
        local keyRuns, order = {}, {}
        for run = 1, #runSets do
          local a = runAdds[run]
          if a then
            for _, key in ipairs(runSets[run]) do
              local rs = keyRuns[key]
              if rs == nil then rs = {}; keyRuns[key] = rs; order[#order + 1] = key end
              rs[#rs + 1] = a
            end
          end
        end
        for _, key in ipairs(order) do
          local rs = keyRuns[key]
          local adds = rs[1]
          if #rs > 1 then
            adds = {}
            for _, a in ipairs(rs) do for x = 1, #a do adds[#adds + 1] = a[x] end end
          end
          ix_zadd(key, adds)
          IX.touched[key] = true
        end
        ix_trim()
        return replies
        """)
}
