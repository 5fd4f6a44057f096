import RedisClient

/// The visibility sweep's write step, lease-aware. A message a Celeriac worker holds has a lease
/// (its token in `leases`) renewed by every heartbeat: not renewed for `lease` seconds means that
/// worker is gone, and the message goes back (redelivered) — or, after `maxCrashes` such returns, to
/// the dead-letter list as a poison pill. A message a Python worker holds has no lease and keeps
/// kombu's rule (back after `visibility` seconds), so neither side steals the other's work.
///
/// The caller (`Broker.restoreStale`) reads the candidates first — the stale leases, the index past
/// the visibility timeout, their `unacked` entries — and passes each one's target list (its priority
/// band) and task record as KEYS. The script checks every candidate again before it moves it: still
/// in the index, not renewed since (score ≤ its cutoff), and held by the same owner; anything else
/// changed in between and is left alone. A lease whose message is no longer held (a Python worker's
/// kombu restore took it back) is dropped. Returns how many messages it moved.
struct RestoreStale: ListedScriptCall {
    struct Candidate: Sendable {
        var tag: String
        /// The lease token holding it, or '' for a Python holder.
        var owner: String
        /// Moved only while its index score is at most this.
        var cutoff: Double
        /// Where it goes back to; nil when its entry cannot be read (then it is only released).
        var list: String?
        /// Its task record, when the message names a task id.
        var record: String?
    }

    var unacked: String
    var unackedIndex: String
    var leases: String
    var crashes: String
    var deadLetters: String
    var candidates: [Candidate]
    /// Leases to drop if their message is no longer held.
    var orphanLeases: [String]
    var maxCrashes: Int
    /// Now, ISO-8601, for a poison pill's dead-letter entry.
    var at: String

    private var layout: (keys: [String], indexes: [(list: Int, record: Int)]) {
        var keys = [unacked, unackedIndex, leases, crashes, deadLetters]
        var indexes: [(Int, Int)] = []
        for candidate in candidates {
            var list = 0, record = 0
            if let key = candidate.list { keys.append(key); list = keys.count }
            if let key = candidate.record, candidate.list != nil { keys.append(key); record = keys.count }
            indexes.append((list, record))
        }
        return (keys, indexes)
    }

    var keys: [RedisArgument] { layout.keys.map { RedisArgument($0) } }
    var arguments: [RedisArgument] {
        var out: [RedisArgument] = [RedisArgument(maxCrashes), RedisArgument(at), RedisArgument(orphanLeases.count)]
        out += orphanLeases.map { RedisArgument($0) }
        for (candidate, index) in zip(candidates, layout.indexes) {
            out += [RedisArgument(candidate.tag), RedisArgument(candidate.owner), RedisArgument(candidate.cutoff),
                    RedisArgument(index.list), RedisArgument(index.record)]
        }
        return out
    }

    static let script = RedisScript(name: "restore_stale", source: KeyTypes.guarding("hzhhl-") + """
        local restored = 0
        local orphans = tonumber(ARGV[3])
        for i = 4, 3 + orphans do
          if not redis.call('ZSCORE', KEYS[2], ARGV[i]) and redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then
            redis.call('HDEL', KEYS[3], ARGV[i])
          end
        end
        for a = 4 + orphans, #ARGV, 5 do
          local tag, owner, cutoff = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
          local listKey, recordKey = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
          local score = redis.call('ZSCORE', KEYS[2], tag)
          if score and tonumber(score) <= cutoff and (redis.call('HGET', KEYS[3], tag) or '') == owner then
            local raw = redis.call('HGET', KEYS[1], tag)
            redis.call('ZREM', KEYS[2], tag)
            redis.call('HDEL', KEYS[1], tag)
            redis.call('HDEL', KEYS[3], tag)
            local ok, entry = false, nil
            if raw and listKey > 0 then ok, entry = pcall(cjson.decode, raw) end
            if ok and type(entry) == 'table' and type(entry[1]) == 'table' then
              local env = entry[1]
              local headers = env['headers'] or {}
              -- Only a task that was running counts as having killed its worker (not a prefetched one).
              local crashes = 0
              if owner ~= '' and recordKey > 0 and redis.call('HGET', KEYS[recordKey], 'state') == 'STARTED' then
                crashes = redis.call('HINCRBY', KEYS[4], tag, 1)
              end
              if owner ~= '' and crashes >= tonumber(ARGV[1]) then
                redis.call('HDEL', KEYS[4], tag)
                redis.call('LPUSH', KEYS[5], cjson.encode({
                  id = tag, task_id = headers['id'], task = headers['task'], queue = entry[3],
                  field = 'worker', reason = 'its worker died ' .. crashes .. ' times while running it (poison pill)',
                  worker = owner, at = ARGV[2], message = cjson.encode(env)}))
              else
                local props = env['properties'] or {}
                local info = props['delivery_info'] or {}
                info['redelivered'] = true
                props['delivery_info'] = info
                env['properties'] = props
                headers['redelivered'] = true
                env['headers'] = headers
                redis.call('RPUSH', KEYS[listKey], cjson.encode(env))
              end
              restored = restored + 1
            end
          end
        end
        return restored
        """)
}
