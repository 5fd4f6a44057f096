import Foundation
import RedisClient

/// Reliable fetch of messages the worker has already read (`LRANGE`) and decoded: pops each from
/// the tail of its list, checks it is byte for byte the message expected, and in the same atomic
/// step records the hold (kombu's `unacked` + `unacked_index`, Celeriac's lease) and, for a message
/// that will run (not revoked), its task record. One round trip for pop, hold and record, with no
/// JSON decoded in Lua, and every key in KEYS: the record keys come from the peeked messages, and
/// the byte comparison is the script's check that the data they came from is unchanged.
///
/// A popped message that is not the one expected (another consumer took the peeked one first) is
/// pushed back where it was, unchanged, and the script stops there (as it does before a message of
/// a lower list while a higher one has a message): what it took so far is held,
/// the rest is left for the next fetch. Returns {runs, tails}: one integer per message taken, in
/// order — 1 when it will run (its record was written), 0 when it is only held (eta/expires/revoked:
/// the worker decides) — and then up to `peekNext` of the messages now at the lists' tails, in the
/// order the next fetch takes them, as flat {list index, message} pairs (read only: the next fetch's
/// expectations, which spare it an `LRANGE` round trip).
/// The history index (`TaskIndex`) follows each record written, as `UpdateRecords` does for `Fetch`.
struct FetchPeeked: ScriptCall {
    /// One peeked message and what taking it writes.
    struct Expected: Sendable {
        /// Index into `lists` of the list it is at the tail of.
        var list: Int
        var raw: [UInt8]
        var tag: String
        /// The queue as a JSON string (the third element of kombu's `unacked` entry).
        var queueJSON: [UInt8]
        var taskID: String
        /// Its task record's key.
        var record: String
        /// False for a message with an eta or expires: held only, its record left to the worker.
        var mayRun: Bool
        /// The record's RECEIVED/STARTED pairs (`TaskRecord.Update.received`).
        var recordPairs: [(TaskRecord.Field, String)]
        /// The index sets of its task name and queue (`Broker.indexSets`), joined when it is new to the index.
        var sets: [String]
        /// The record's new state (RECEIVED or STARTED), for the index's state sets.
        var state: String { recordPairs.first { $0.0 == .state }?.1 ?? "" }
    }

    var unacked: String
    var unackedIndex: String
    var leases: String
    var revoked: String
    /// The lists in priority order.
    var lists: [String]
    var now: Double
    var leaseToken: String
    /// Seconds the records live (Celery's `result_expires`).
    var ttl: Int
    /// How many of the next messages to return for the next fetch.
    var peekNext: Int
    var expected: [Expected]
    /// The fetching worker's index set, joined by every task it takes (nil for an unnamed worker).
    var workerSet: String?
    /// The index's fixed keys (`KeySpace.indexKeys`).
    var indexKeys: [String]
    var index: TaskIndex

    /// KEYS: four shared keys, the lists, each expected message's record, then each record group's
    /// index sets, the worker's set (if any) and the index's fixed keys.
    /// ARGV: now, token, ttl, the number of lists, the number of messages, 1 when there is a worker set,
    /// the number of record groups; then per group: its number of index sets, its new state, the number
    /// of record arguments, those; then per message (six each): list index, kombu's `unacked` entry
    /// (`[raw, "", queue]`, so Lua builds no string of the message's size), the raw message's length,
    /// tag, id, its record group (0: held only); then the index's four arguments.
    ///
    /// A record group is one record update and its index sets, passed once for every message of the
    /// batch that writes it (a batch's messages mostly share name, queue, worker and stamps): Redis
    /// spends ~600 instructions parsing each argument and handing it to Lua (callgrind), and an update
    /// is 14 of them plus its two set keys.
    /// Written straight into RESP (no intermediate argument arrays: this runs once per fetch).
    func write(to arguments: inout RESPArguments) -> Int {
        let (groups, groupOf) = recordGroups()
        let start = arguments.count
        for key in [unacked, unackedIndex, leases, revoked] + lists { arguments.append(key) }
        for e in expected { arguments.append(e.record) }
        for g in groups { for set in g.sets { arguments.append(set) } }
        if let workerSet { arguments.append(workerSet) }
        for key in indexKeys { arguments.append(key) }
        let keyCount = arguments.count - start
        arguments.append(contentsOf: [RedisArgument(now)])
        arguments.append(leaseToken)
        arguments.append(ttl)
        arguments.append(lists.count)
        arguments.append(expected.count)
        arguments.append(workerSet == nil ? 0 : 1)
        arguments.append(groups.count)
        for g in groups {
            arguments.append(g.sets.count)
            arguments.append(g.state)
            arguments.append(g.recordPairs.count * 2)
            arguments.append(pairs: g.recordPairs)
        }
        for (e, group) in zip(expected, groupOf) {
            arguments.append(e.list + 1)
            arguments.append(Self.unackedEntry(raw: e.raw, queueJSON: e.queueJSON))
            arguments.append(e.raw.count)
            arguments.append(e.tag)
            arguments.append(e.taskID)
            arguments.append(group)
        }
        index.write(now: Date(timeIntervalSince1970: now), to: &arguments)
        return keyCount
    }

    /// The distinct record updates (with their index sets) of the messages that may run, and for each
    /// message its group's 1-based position (0 for a message held only).
    func recordGroups() -> (groups: [Expected], groupOf: [Int]) {
        var groups: [Expected] = []
        var groupOf: [Int] = []
        groupOf.reserveCapacity(expected.count)
        for e in expected {
            guard e.mayRun else {
                groupOf.append(0)
                continue
            }
            if let i = groups.firstIndex(where: { $0.sets == e.sets && $0.recordPairs.elementsEqual(e.recordPairs, by: ==) }) {
                groupOf.append(i + 1)
            } else {
                groups.append(e)
                groupOf.append(groups.count)
            }
        }
        return (groups, groupOf)
    }

    /// kombu's `unacked` entry of a message: `[message, "", "queue"]`.
    static func unackedEntry(raw: [UInt8], queueJSON: [UInt8]) -> [UInt8] {
        var entry: [UInt8] = []
        entry.reserveCapacity(raw.count + queueJSON.count + 8)
        entry.append(UInt8(ascii: "["))
        entry += raw
        entry += Array(", \"\", ".utf8)
        entry += queueJSON
        entry.append(UInt8(ascii: "]"))
        return entry
    }

    /// Runs the script and, in the same write, reads the lists' tails after it (`LRANGE`): {runs, tails}
    /// as the type's comment says. The tails are read by Redis, not copied through Lua (Redis's Lua
    /// hashes every byte of every string it is handed: a message read in a script costs its length
    /// again); they are a hint only, so reading them right after the script, not inside it, is enough.
    func run(on redis: RedisClient) async throws -> RESPValue {
        var arguments = RESPArguments()
        let keyCount = write(to: &arguments)
        let reads = lists.map { ["LRANGE", RedisArgument($0), RedisArgument(-max(1, peekNext)), "-1"] as [RedisArgument] }
        let (reply, ranges) = try await redis.evaluate(Self.script, keyCount: keyCount, arguments: arguments,
                                                       confirm: Self.needsReplicaAck, followedBy: peekNext > 0 ? reads : [])
        var tails: [RESPValue] = []
        for (index, range) in ranges.enumerated() where tails.count < 2 * peekNext {
            for item in (try range.throwingError(command: "LRANGE").array ?? []).reversed() where tails.count < 2 * peekNext {
                tails += [.integer(Int64(index + 1)), item]
            }
        }
        return .array([reply.array?.first ?? .array([]), .array(tails)])
    }

    /// Not waited for by `--min-replicas-ack`, as `Fetch`: a lost fetch runs again (a counted
    /// duplicate), and the completion's confirmed write covers it.
    static let needsReplicaAck = false

    // Types are checked once per call, on the shared keys and the lists (a list of the wrong type
    // stops the call before anything is popped); a record of the wrong type is found by its own
    // write (`pcall`, which writes nothing then): that record is left alone and its message reported
    // as held only, so the worker writes the record itself (and logs why it cannot).
    static let script = RedisScript(name: "fetch_peeked", source: """
        -- Each key is first asked its length, which fails only on a wrong type and answers a number (TYPE
        -- answers a table: every table a call makes costs Redis ~2k instructions of garbage collection);
        -- only then is TYPE read, for the message.
        local nlists = tonumber(ARGV[4])
        for i = 1, 4 + nlists do
          local want = (i > 4 and 'list') or ((i == 1 or i == 3) and 'hash') or 'zset'
          local n = redis.pcall((want == 'list' and 'LLEN') or (want == 'hash' and 'HLEN') or 'ZCARD', KEYS[i])
          local got = type(n) == 'table' and redis.call('TYPE', KEYS[i])['ok']
          if got and got ~= 'none' and got ~= want then
            return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got .. ', not a ' .. want .. '; nothing written')
          end
        end
        local now, token, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
        local count, hasWorker = tonumber(ARGV[5]), ARGV[6] == '1'
        -- The record groups: each one's index sets, state and record arguments (ARGV first..last).
        local groups, a, s = {}, 8, 4 + nlists + count + 1
        for g = 1, tonumber(ARGV[7]) do
          local nsets, n = tonumber(ARGV[a]), tonumber(ARGV[a + 2])
          local sets = {}
          for j = 1, nsets do sets[j] = KEYS[s + j - 1] end
          -- `to`: its state set (set below); `fresh`, `every`: its index lists (see the loop).
          groups[g] = {sets = sets, state = ARGV[a + 1], first = a + 3, last = a + 2 + n, to = false, fresh = {}, every = {}}
          a, s = a + 3 + n, s + nsets
        end
        local workerSet = hasWorker and KEYS[s] or nil
        -- Message m's six arguments start at ARGV[at + 6 * (m - 1)].
        local at = a

        """ + TaskIndex.lua(keys: "#KEYS - \(TaskIndex.stateSets.count)", args: "#ARGV - 3") + """
        -- Each group's state set (a custom state is kept under STARTED; PENDING and SUCCESS have none).
        for _, group in ipairs(groups) do
          if not IX.unset[group.state] then
            local states = ix_states()
            group.to = states[group.state] or states.STARTED
          end
        end
        -- Which of the ids that may run are revoked, and which the index knows: one read each for the batch.
        local ids = {}
        for m = 1, count do
          a = at + 6 * (m - 1)
          if ARGV[a + 5] ~= '0' then ids[#ids + 1] = ARGV[a + 4] end
        end
        local revoked = {}
        if #ids > 0 then
          local scores = redis.call('ZMSCORE', KEYS[4], unpack(ids))
          for i, id in ipairs(ids) do if scores[i] then revoked[id] = true end end
          ix_prefetch(ids)
        end
        local out = {}
        -- The holds (unacked_index, unacked, leases) of the messages taken are written after the loop,
        -- one call per key: the script is atomic and the loop reads none of those keys. Nothing in the
        -- loop may raise an error after a pop (a script is not rolled back: a popped message would be
        -- left without its hold), so the record's writes there all go through pcall.
        local held, entries, leased = {}, {}, {}
        local function higherListHasOne(index)
          for j = 1, index - 1 do
            if redis.call('LLEN', KEYS[4 + j]) > 0 then return true end
          end
          return false
        end
        -- Consecutive expected messages of one list are popped in one call (`RPOP list n`); from the
        -- first one that is not the message expected, the rest of that call's go back where they were.
        local popped, nextPopped = {}, 1
        for m = 1, count do
          a = at + 6 * (m - 1)
          local index = tonumber(ARGV[a])
          local list = KEYS[4 + index]
          if nextPopped > #popped then
            -- First lists first, as `Fetch`: a message that came to a higher list since the peek goes first.
            if index > 1 and higherListHasOne(index) then break end
            local run = 1
            while m + run <= count and tonumber(ARGV[at + 6 * (m + run - 1)]) == index do run = run + 1 end
            popped, nextPopped = redis.call('RPOP', list, run) or {}, 1
          end
          local raw = popped[nextPopped]
          -- The message expected is the entry's bytes 2 to length + 1 (a plain find compares them in place).
          local entry = ARGV[a + 1]
          if not raw or #raw ~= tonumber(ARGV[a + 2]) or string.find(entry, raw, 2, true) ~= 2 then
            local back = {}
            for j = #popped, nextPopped, -1 do back[#back + 1] = popped[j] end
            if #back > 0 then redis.call('RPUSH', list, unpack(back)) end
            break
          end
          nextPopped = nextPopped + 1
          local tag, id, group = ARGV[a + 3], ARGV[a + 4], groups[tonumber(ARGV[a + 5])]
          held[#held + 1] = now
          held[#held + 1] = tag
          entries[#entries + 1] = tag
          entries[#entries + 1] = entry
          leased[#leased + 1] = tag
          leased[#leased + 1] = token
          local runs = 0
          if group and not revoked[id] then
            local record = KEYS[4 + nlists + m]
            -- One read for the old state (the index's move) and the attempts; a count that is not a
            -- plain small integer goes through HINCRBY (which leaves a non-integer as it is).
            local got = redis.pcall('HMGET', record, 'state', 'attempts')
            if not got['err'] then
              local attempts = got[2]
              local nextAttempts = nil
              if not attempts then
                nextAttempts = '1'
              elseif attempts == '0' or string.match(attempts, '^[1-9]%d?%d?%d?%d?%d?%d?%d?%d?$') then
                nextAttempts = tostring(tonumber(attempts) + 1)
              end
              local written
              if nextAttempts then
                written = redis.pcall('HSET', record, 'attempts', nextAttempts, unpack(ARGV, group.first, group.last))
              else
                written = redis.pcall('HSET', record, unpack(ARGV, group.first, group.last))
                redis.pcall('HINCRBY', record, 'attempts', 1)
              end
              if type(written) ~= 'table' or not written['err'] then
                if ttl > 0 then redis.call('EXPIRE', record, ARGV[3]) end
                -- The usual task (no state yet, or PENDING or SUCCESS, which have no set; its score read
                -- by `ix_prefetch`) goes into its group's lists: `fresh` (new to the index: joins `all` and
                -- the group's sets at `now`) and `every` (joins the worker's set and the state set at its
                -- score), each written after the loop with one ZADD per set. That is what `ix_write` would
                -- stage, without its bookkeeping per set and task (~7k instructions each). Any other
                -- task (moving out of a state set, or a score not read) goes through `ix_write`.
                local old, score = got[1], IX.scores[id]
                if score ~= nil and (not old or IX.unset[old]) and group.to then
                  if score == false then
                    score = IX.now
                    IX.scores[id] = score
                    local fresh = group.fresh
                    fresh[#fresh + 1] = score
                    fresh[#fresh + 1] = id
                  end
                  if score then
                    local every = group.every
                    every[#every + 1] = score
                    every[#every + 1] = id
                  end
                else
                  ix_write(id, old, group.state, group.sets, workerSet)
                end
                runs = 1
              end
            end
          end
          out[#out + 1] = runs
        end
        for i = 1, #held / 2, 500 do
          local last = math.min(i + 499, #held / 2)
          redis.call('ZADD', KEYS[2], unpack(held, 2 * i - 1, 2 * last))
          redis.call('HSET', KEYS[1], unpack(entries, 2 * i - 1, 2 * last))
          redis.call('HSET', KEYS[3], unpack(leased, 2 * i - 1, 2 * last))
        end
        -- The groups' lists, before what `ix_write` staged (flushed by `ix_trim`): a task it staged
        -- was written after any list entry of its id (its record then had a state), and the last
        -- write wins. Marked as `ix_stage` marks them: named sets expire when unused, the rest are trimmed.
        for _, group in ipairs(groups) do
          local fresh, every = group.fresh, group.every
          if #fresh > 0 then
            ix_zadd(IX.all, fresh)
            IX.touched[IX.all] = IX.touched[IX.all] or false
            for _, key in ipairs(group.sets) do
              ix_zadd(key, fresh)
              IX.touched[key] = true
            end
          end
          if #every > 0 then
            if workerSet then
              ix_zadd(workerSet, every)
              IX.touched[workerSet] = true
            end
            ix_zadd(group.to, every)
            IX.touched[group.to] = IX.touched[group.to] or false
          end
        end
        ix_trim()
        return {out}
        """)
}
