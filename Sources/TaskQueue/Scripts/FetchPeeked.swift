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
struct FetchPeeked: ListedScriptCall {
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

    /// Four shared keys, the lists, each expected message's record, then each one's two index sets,
    /// the worker's set (if any) and the index's fixed keys.
    var keys: [RedisArgument] {
        let named = expected.flatMap(\.sets) + (workerSet.map { [$0] } ?? [])
        return ([unacked, unackedIndex, leases, revoked] + lists + expected.map(\.record) + named + indexKeys)
            .map { RedisArgument($0) }
    }
    /// now, token, ttl, the number of lists, peekNext, the number of messages, 1 when there is a worker
    /// set; then per message: list index, raw, tag, queue JSON, id, may run 0/1, its new state, the
    /// number of record arguments, those; then the index's four arguments.
    var arguments: [RedisArgument] {
        var out = [RedisArgument(now), RedisArgument(leaseToken), RedisArgument(ttl), RedisArgument(lists.count),
                   RedisArgument(peekNext), RedisArgument(expected.count), RedisArgument(workerSet == nil ? 0 : 1)]
        out.reserveCapacity(11 + expected.count * 22)
        for e in expected {
            out += [RedisArgument(e.list + 1), RedisArgument(e.raw), RedisArgument(e.tag), RedisArgument(e.queueJSON),
                    RedisArgument(e.taskID), RedisArgument(e.mayRun ? 1 : 0), RedisArgument(e.state),
                    RedisArgument(e.recordPairs.count * 2)]
            out += [RedisArgument](pairs: e.recordPairs)
        }
        return out + index.arguments(now: Date(timeIntervalSince1970: now))
    }

    /// Not waited for by `--min-replicas-ack`, as `Fetch`: a lost fetch runs again (a counted
    /// duplicate), and the completion's confirmed write covers it.
    static let needsReplicaAck = false

    // Types are checked once per call, on the shared keys and the lists (a list of the wrong type
    // stops the call before anything is popped); a record of the wrong type is found by its own
    // write (`pcall`, which writes nothing then): that record is left alone and its message reported
    // as held only, so the worker writes the record itself (and logs why it cannot).
    static let script = RedisScript(name: "fetch_peeked", source: """
        local shared = {{KEYS[1], 'hash'}, {KEYS[2], 'zset'}, {KEYS[3], 'hash'}, {KEYS[4], 'zset'}}
        local nlists = tonumber(ARGV[4])
        for i = 5, 4 + nlists do shared[#shared + 1] = {KEYS[i], 'list'} end
        for _, kt in ipairs(shared) do
          local got = redis.call('TYPE', kt[1])['ok']
          if got ~= 'none' and got ~= kt[2] then
            return redis.error_reply('WRONGTYPE ' .. kt[1] .. ' holds a ' .. got .. ', not a ' .. kt[2] .. '; nothing written')
          end
        end
        local now, token, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
        local count, hasWorker = tonumber(ARGV[6]), ARGV[7] == '1'
        local setsAt = 4 + nlists + count + 1
        local workerSet = hasWorker and KEYS[setsAt + 2 * count] or nil

        """ + TaskIndex.lua(keys: "#KEYS - \(TaskIndex.stateSets.count)", args: "#ARGV - 3") + """
        local out = {}
        local a = 8
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
        for m = 1, count do
          local index = tonumber(ARGV[a])
          -- First lists first, as `Fetch`: a message that came to a higher list since the peek goes first.
          if index > 1 and higherListHasOne(index) then break end
          local list = KEYS[4 + index]
          local raw = redis.call('RPOP', list)
          if raw ~= ARGV[a + 1] then
            if raw then redis.call('RPUSH', list, raw) end
            break
          end
          local tag, n = ARGV[a + 2], tonumber(ARGV[a + 7])
          held[#held + 1] = now
          held[#held + 1] = tag
          entries[#entries + 1] = tag
          entries[#entries + 1] = '[' .. raw .. ', "", ' .. ARGV[a + 3] .. ']'
          leased[#leased + 1] = tag
          leased[#leased + 1] = token
          local runs = 0
          if ARGV[a + 5] == '1' and not redis.call('ZSCORE', KEYS[4], ARGV[a + 4]) then
            local record = KEYS[4 + nlists + m]
            local old = redis.pcall('HGET', record, 'state')
            local written = redis.pcall('HSET', record, unpack(ARGV, a + 8, a + 7 + n))
            if type(written) ~= 'table' or not written['err'] then
              redis.pcall('HINCRBY', record, 'attempts', 1)  -- a non-integer count stays as it is
              if ttl > 0 then redis.call('EXPIRE', record, ARGV[3]) end
              local sets = {KEYS[setsAt + 2 * (m - 1)], KEYS[setsAt + 2 * (m - 1) + 1]}
              ix_write(ARGV[a + 4], old, ARGV[a + 6], sets, workerSet)
              runs = 1
            end
          end
          out[#out + 1] = runs
          a = a + 8 + n
        end
        for i = 1, #held / 2, 500 do
          local last = math.min(i + 499, #held / 2)
          redis.call('ZADD', KEYS[2], unpack(held, 2 * i - 1, 2 * last))
          redis.call('HSET', KEYS[1], unpack(entries, 2 * i - 1, 2 * last))
          redis.call('HSET', KEYS[3], unpack(leased, 2 * i - 1, 2 * last))
        end
        ix_trim()
        local want, tails = tonumber(ARGV[5]), {}
        for i = 1, nlists do
          local missing = want - #tails / 2
          if missing <= 0 then break end
          local items = redis.call('LRANGE', KEYS[4 + i], -missing, -1)
          for j = #items, 1, -1 do
            tails[#tails + 1] = i
            tails[#tails + 1] = items[j]
          end
        end
        return {out, tails}
        """)
}
