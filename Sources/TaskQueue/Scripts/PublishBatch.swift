import RedisClient

/// Publish several messages in one step — all of them or none: a group's members (with Celery's
/// saved `GroupResult`, Celeriac's group hash and, for a chord, the chord size Celery's client sets
/// first), or a chain's first task with the PENDING records of the steps that follow. An optional
/// claim key (an `Idempotency-Key`) makes a retried submission publish nothing.
/// Returns the value under the claim: `claimValue` when this call published, the first one's otherwise.
struct PublishBatch: ScriptCall {
    /// A message to LPUSH onto `lists[list]`, with its PENDING record.
    struct Pushed: Sendable {
        var list: Int
        var record: String
        var envelope: [UInt8]
        var recordPairs: [(TaskRecord.Field, String)]
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
    var pushed: [Pushed]
    /// Records of tasks a worker sends later (a chain's next steps, a chord's callback).
    var pendingRecords: [(key: String, pairs: [(TaskRecord.Field, String)])] = []

    private var header: [(role: Character, key: String, type: Character)] {
        var out: [(Character, String, Character)] = []
        if let claim { out.append(("c", claim, "s")) }
        if let groupMeta { out.append(("g", groupMeta, "s")) }
        if let groupHash { out.append(("h", groupHash, "h")) }
        if let chord { out += [("s", chord.size, "s"), ("x", chord.claim, "s")] }
        return out
    }

    /// KEYS: the header keys, the lists, the pushed messages' records, the pending records. ARGV: the key
    /// types, the roles, the claim value and TTL, the group document, the TTL, the chord size, the counts
    /// (messages, pending records, hash arguments, lists), the hash pairs, each message (its list, envelope
    /// and record pairs), each pending record's pairs.
    func write(to arguments: inout RESPArguments) -> Int {
        let header = self.header
        arguments.reserveCapacity(pushed.reduce(4096) { $0 + $1.envelope.count + 512 })
        for entry in header { arguments.append(entry.key) }
        for list in lists { arguments.append(list) }
        for message in pushed { arguments.append(message.record) }
        for record in pendingRecords { arguments.append(record.key) }
        var types = String(header.map(\.type))
        types += String(repeating: "l", count: lists.count)
        types += String(repeating: "h", count: pushed.count + pendingRecords.count)
        arguments.append(types)
        arguments.append(String(header.map(\.role)))
        arguments.append(claimValue)
        arguments.append(claimTTL)
        arguments.append(groupDocument)
        arguments.append(ttl)
        arguments.append(chordSize)
        arguments.append(pushed.count)
        arguments.append(pendingRecords.count)
        arguments.append(groupHashPairs.count * 2)
        arguments.append(lists.count)
        for (field, value) in groupHashPairs {
            arguments.append(field)
            arguments.append(value)
        }
        for message in pushed {
            arguments.append(message.list + 1)
            arguments.append(message.envelope)
            arguments.append(message.recordPairs.count * 2)
            arguments.append(pairs: message.recordPairs)
        }
        for record in pendingRecords {
            arguments.append(record.pairs.count * 2)
            arguments.append(pairs: record.pairs)
        }
        return header.count + lists.count + pushed.count + pendingRecords.count
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
        local at = 12
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
        local lists = #roles
        local batches = {}
        for j = 1, l do batches[j] = {} end
        local k = lists + l
        for i = 1, n do
          local batch = batches[tonumber(ARGV[at])]
          batch[#batch + 1] = ARGV[at + 1]
          local count = tonumber(ARGV[at + 2])
          k = k + 1
          if count > 0 then redis.call('HSET', KEYS[k], unpack(ARGV, at + 3, at + 2 + count)) end
          redis.call('EXPIRE', KEYS[k], ttl)
          at = at + 3 + count
        end
        -- Each list gets its messages in member order (the first is consumed first), in batches that
        -- stay within Lua's stack.
        for j = 1, l do
          local batch = batches[j]
          for first = 1, #batch, 500 do
            redis.call('LPUSH', KEYS[lists + j], unpack(batch, first, math.min(first + 499, #batch)))
          end
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
