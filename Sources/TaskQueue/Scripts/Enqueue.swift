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
    /// The index's fixed keys (`KeySpace.indexKeys`).
    var indexKeys: [String]
    /// Seconds the records live; 0 keeps them.
    var recordTTL: Int
    var index: TaskIndex

    /// KEYS: the lists (each once), the records (one per entry), the named index sets (each once), the
    /// index's fixed keys. ARGV: the counts of entries, lists and named sets, the record TTL, the index's
    /// four arguments (at the latest entry's time), then per entry: its list's number, task id, score
    /// (epoch ms), envelope, its sets' count and numbers, its record pairs' count and the pairs.
    func write(to arguments: inout RESPArguments) -> Int {
        var lists: [String: Int] = [:], listOrder: [String] = []
        var sets: [String: Int] = [:], setOrder: [String] = []
        for entry in entries {
            if lists[entry.list] == nil { lists[entry.list] = lists.count + 1; listOrder.append(entry.list) }
            for set in entry.sets where sets[set] == nil { sets[set] = sets.count + 1; setOrder.append(set) }
        }
        arguments.reserveCapacity(entries.reduce(512) { $0 + $1.envelope.count + 384 })
        for list in listOrder { arguments.append(list) }
        for entry in entries { arguments.append(entry.record) }
        for set in setOrder { arguments.append(set) }
        for key in indexKeys { arguments.append(key) }
        arguments.append(entries.count)
        arguments.append(listOrder.count)
        arguments.append(setOrder.count)
        arguments.append(recordTTL)
        index.write(now: entries.map(\.now).max() ?? Date(), to: &arguments)
        for entry in entries {
            arguments.append(lists[entry.list]!)
            arguments.append(entry.taskID)
            arguments.append(Int(TaskIndex.score(entry.now)))
            arguments.append(entry.envelope)
            arguments.append(entry.sets.count)
            for set in entry.sets { arguments.append(sets[set]!) }
            arguments.append(entry.recordPairs.count * 2)
            arguments.append(pairs: entry.recordPairs)
        }
        return listOrder.count + entries.count + setOrder.count + indexKeys.count
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
        local n, l, s = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
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
        local function writeRecord(i, first, last)
          if last < first then return wrongType(i, 'hash') end
          local reply = redis.pcall('HSET', KEYS[i], unpack(ARGV, first, last))
          if type(reply) == 'table' and reply.err then
            local refusal = wrongType(i, 'hash')
            if refusal then return refusal end
            error(reply)
          end
        end

        """ + TaskIndex.lua(keys: "#KEYS - \(TaskIndex.stateSets.count)", args: "5") + """
        local ttlText = ARGV[4]
        local ttl = tonumber(ttlText)
        -- Per published message, in flat arrays (no table per message): its id, score, and where its sets' numbers are.
        local replies, pushes = {}, {}
        local ids, scores, setsFrom, setsCount = {}, {}, {}, {}
        local at = 9
        for i = 1, n do
          local list, c = tonumber(ARGV[at]), tonumber(ARGV[at + 4])
          local setsAt = at + 5
          local p = tonumber(ARGV[setsAt + c])
          local pairsAt = setsAt + c + 1
          local refusal = refused[list] or writeRecord(l + i, pairsAt, pairsAt + p - 1)
          if refusal then
            replies[i] = refusal
          else
            local record = KEYS[l + i]
            if ttl > 0 then redis.call('EXPIRE', record, ttlText) end
            local k = #ids + 1
            ids[k], scores[k], setsFrom[k], setsCount[k] = ARGV[at + 1], ARGV[at + 2], setsAt, c
            local batch = pushes[list]
            if batch == nil then batch = {}; pushes[list] = batch end
            batch[#batch + 1] = ARGV[at + 3]
            replies[i] = 1
          end
          at = pairsAt + p
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
        -- set, without `ix_stage`'s per-message bookkeeping. An id whose score could not be read (a
        -- wrong-typed `all`) takes `ix_write`'s own path.
        ix_prefetch(ids)
        local adds, order = {}, {}
        for k, id in ipairs(ids) do
          local known = IX.scores[id]
          if known == false then
            local score = scores[k]
            IX.scores[id] = score
            for j = 0, setsCount[k] do
              local key = j == 0 and IX.all or KEYS[l + n + tonumber(ARGV[setsFrom[k] + j - 1])]
              local a = adds[key]
              if a == nil then a = {}; adds[key] = a; order[#order + 1] = key end
              a[#a + 1] = score
              a[#a + 1] = id
            end
          elseif known == nil then
            local sets = {}
            for j = 1, setsCount[k] do sets[j] = KEYS[l + n + tonumber(ARGV[setsFrom[k] + j - 1])] end
            ix_write(id, false, 'PENDING', sets, nil, scores[k])
          end
        end
        for _, key in ipairs(order) do
          ix_zadd(key, adds[key])
          -- As `ix_stage` marks them: the named sets expire when unused, `all` is trimmed only.
          IX.touched[key] = IX.touched[key] or key ~= IX.all
        end
        ix_trim()
        return replies
        """)
}
