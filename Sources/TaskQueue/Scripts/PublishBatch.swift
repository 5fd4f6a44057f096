import RedisClient

/// Publish several messages in one step — all of them or none: a group's members (with Celery's
/// saved `GroupResult`, Celeriac's group hash and, for a chord, the chord size Celery's client sets
/// first), or a chain's first task with the PENDING records of the steps that follow. An optional
/// claim key (an `Idempotency-Key`) makes a retried submission publish nothing.
/// Returns the value under the claim: `claimValue` when this call published, the first one's otherwise.
struct PublishBatch: ScriptCall {
    /// A message to LPUSH onto `lists[list]`.
    struct Pushed: Sendable {
        var list: Int
        var envelope: [UInt8]
    }

    /// Claim key (`c`), saved group (`g`), group hash (`h`), chord size (`s`) and chord claim (`x`):
    /// each present or not; the roles string tells the script which header keys came.
    var claim: String?
    var groupMeta: String?
    var groupHash: String?
    /// The chord's `.s` and `.c` keys; both or neither.
    var chord: (size: String, claim: String)?
    var claimValue: String
    var claimTTL: Int
    /// `{"result": [[id, null], [[[member, null], null], …]]}`, Celery's `GroupResult.save()`.
    var groupDocument: [UInt8] = []
    var groupHashPairs: [(String, String)] = []
    var chordSize: Int = 0
    /// Seconds the group keys and the task records live (Celery's `result_expires`).
    var ttl: Int
    /// The lists the messages go to, each once (a key in KEYS, LPUSHed in batches).
    var lists: [String]
    /// In order: each list gets its messages in this order.
    var pushed: [Pushed]
    /// The pushed messages' PENDING records (see `RecordTable.split`).
    var records = RecordTable()
    /// Records written whole: of tasks a worker sends later (a chain's next steps, a chord's callback),
    /// and any pushed message's whose fields differ from the table's.
    var pendingRecords: [(key: String, pairs: [(TaskRecord.Field, String)])] = []

    private var header: [(role: Character, key: String, type: Character)] {
        var out: [(Character, String, Character)] = []
        if let claim { out.append(("c", claim, "s")) }
        if let groupMeta { out.append(("g", groupMeta, "s")) }
        if let groupHash { out.append(("h", groupHash, "h")) }
        if let chord { out += [("s", chord.size, "s"), ("x", chord.claim, "s")] }
        return out
    }

    /// KEYS: the header keys, the lists, the table's records, the whole records. ARGV: the key types,
    /// the roles, the claim value and TTL, the group document, the TTL, the chord size, the counts (table
    /// rows, whole records, hash arguments, lists, shared-pair arguments, columns), the hash pairs, the
    /// shared pairs, the column names, each list's message count, the envelopes list by list, each row's
    /// values, each whole record's pairs. Per member that is its record key, its envelope and its
    /// row's values: no per-member count or list number for the script to read.
    func write(to arguments: inout RESPArguments) -> Int {
        let header = self.header
        let rowValues = records.rows.count * records.columns.count
        arguments.reserveCapacity(pushed.reduce(4096) { $0 + $1.envelope.count + 80 } + rowValues * 24)
        for entry in header { arguments.append(entry.key) }
        for list in lists { arguments.append(list) }
        for row in records.rows { arguments.append(row.key) }
        for record in pendingRecords { arguments.append(record.key) }
        var types = String(header.map(\.type))
        types += String(repeating: "l", count: lists.count)
        types += String(repeating: "h", count: records.rows.count + pendingRecords.count)
        arguments.append(types)
        arguments.append(String(header.map(\.role)))
        arguments.append(claimValue)
        arguments.append(claimTTL)
        arguments.append(groupDocument)
        arguments.append(ttl)
        arguments.append(chordSize)
        arguments.append(records.rows.count)
        arguments.append(pendingRecords.count)
        arguments.append(groupHashPairs.count * 2)
        arguments.append(lists.count)
        arguments.append(records.shared.count * 2)
        arguments.append(records.columns.count)
        for (field, value) in groupHashPairs {
            arguments.append(field)
            arguments.append(value)
        }
        arguments.append(pairs: records.shared)
        for column in records.columns { arguments.append(column.rawValue) }
        if lists.count == 1 {
            arguments.append(pushed.count)
            for message in pushed { arguments.append(message.envelope) }
        } else {
            for list in lists.indices { arguments.append(pushed.reduce(0) { $0 + ($1.list == list ? 1 : 0) }) }
            for list in lists.indices {
                for message in pushed where message.list == list { arguments.append(message.envelope) }
            }
        }
        for row in records.rows {
            for value in row.values { arguments.append(value) }
        }
        for record in pendingRecords {
            arguments.append(record.pairs.count * 2)
            arguments.append(pairs: record.pairs)
        }
        return header.count + lists.count + records.rows.count + pendingRecords.count
    }

    // Types are checked for every key before anything is written (Redis does not roll a script back).
    // The task records (every key after the header keys and the lists) belong to ids made just now,
    // so they almost never exist: one EXISTS per 500 of them, and TYPE only in a batch where one does
    // (a TYPE per record was a third of a 1,000-member group's time in Redis).
    static let script = RedisScript(name: "publish_batch", source: """
        local names = {h = 'hash', l = 'list', s = 'string'}
        local function wrongType(i)
          local want = names[string.sub(ARGV[1], i, i)]
          local got = redis.call('TYPE', KEYS[i])['ok']
          if got ~= 'none' and got ~= want then
            return 'WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got .. ', not a ' .. want .. '; nothing written'
          end
        end
        local fixed = math.min(#ARGV[2] + tonumber(ARGV[11]), #KEYS)
        for i = 1, fixed do
          local err = wrongType(i)
          if err then return redis.error_reply(err) end
        end
        for first = fixed + 1, #KEYS, 500 do
          local last = math.min(first + 499, #KEYS)
          if redis.call('EXISTS', unpack(KEYS, first, last)) > 0 then
            for i = first, last do
              local err = wrongType(i)
              if err then return redis.error_reply(err) end
            end
          end
        end
        local role = {}
        local roles = ARGV[2]
        for k = 1, #roles do role[string.sub(roles, k, k)] = KEYS[k] end
        if role.c then
          local existing = redis.call('GET', role.c)
          if existing then return existing end
        end
        local ttl = tonumber(ARGV[6])
        local n, m, hashCount, l = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
        local sharedCount, width = tonumber(ARGV[12]), tonumber(ARGV[13])
        local at = 14
        if role.h and hashCount > 0 then
          redis.call('HSET', role.h, unpack(ARGV, at, at + hashCount - 1))
          redis.call('EXPIRE', role.h, ttl)
        end
        at = at + hashCount
        if role.g then
          redis.call('SET', role.g, ARGV[5], 'EX', ttl)
          redis.call('PUBLISH', role.g, ARGV[5])
        end
        if role.s then
          -- As Celery's set_chord_size: a reapplied chord id is a new run, so no old claim or 'done' mark.
          redis.call('DEL', role.x)
          redis.call('SET', role.s, ARGV[7], 'EX', ttl)
        end
        -- One HSET argument list serves every row: the shared pairs, then each column's name and
        -- (filled in per row) its value.
        local fields = {}
        for i = 1, sharedCount do fields[i] = ARGV[at + i - 1] end
        at = at + sharedCount
        for c = 1, width do fields[sharedCount + 2 * c - 1] = ARGV[at + c - 1] end
        at = at + width
        local size = sharedCount + 2 * width
        -- Each list gets its messages in member order (the first is consumed first), straight from
        -- ARGV in batches that stay within Lua's stack.
        local lists = #roles
        local counts = at
        at = at + l
        for j = 1, l do
          local last = at + tonumber(ARGV[counts + j - 1]) - 1
          for first = at, last, 500 do
            redis.call('LPUSH', KEYS[lists + j], unpack(ARGV, first, math.min(first + 499, last)))
          end
          at = last + 1
        end
        local k = lists + l
        for i = 1, n do
          for c = 1, width do fields[sharedCount + 2 * c] = ARGV[at + c - 1] end
          at = at + width
          k = k + 1
          if size > 0 then redis.call('HSET', KEYS[k], unpack(fields, 1, size)) end
          redis.call('EXPIRE', KEYS[k], ttl)
        end
        for j = 1, m do
          local count = tonumber(ARGV[at])
          k = k + 1
          if count > 0 then redis.call('HSET', KEYS[k], unpack(ARGV, at + 1, at + count)) end
          redis.call('EXPIRE', KEYS[k], ttl)
          at = at + 1 + count
        end
        if role.c then
          if tonumber(ARGV[4]) > 0 then
            redis.call('SET', role.c, ARGV[3], 'EX', tonumber(ARGV[4]))
          else
            redis.call('SET', role.c, ARGV[3])
          end
        end
        return ARGV[3]
        """)
}
