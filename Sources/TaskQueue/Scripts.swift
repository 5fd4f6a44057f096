import RedisClient

/// The Lua scripts behind every multi-key operation. Each names all its keys in KEYS.
enum Scripts {
    /// Store a result document unless a SUCCESS is already stored; publish it; update the task record;
    /// and, when a delivery tag is given, acknowledge that message — all in one atomic step, so a
    /// result is never stored without its ack or acked without its result.
    /// KEYS: result key, task record, unacked, unacked_index.
    /// ARGV: document, ttl seconds, state, delivery tag or '', then record field/value pairs.
    static let storeResult = RedisScript(name: "store_result", source: """
        if ARGV[4] ~= '' then
          redis.call('HDEL', KEYS[3], ARGV[4])
          redis.call('ZREM', KEYS[4], ARGV[4])
        end
        local current = redis.call('GET', KEYS[1])
        if current then
          local ok, doc = pcall(cjson.decode, current)
          if ok and type(doc) == 'table' and doc['status'] == 'SUCCESS' then return 0 end
        end
        local ttl = tonumber(ARGV[2])
        if ttl > 0 then redis.call('SETEX', KEYS[1], ttl, ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1]) end
        redis.call('PUBLISH', KEYS[1], ARGV[1])
        local fields = {'state', ARGV[3]}
        for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
        redis.call('HSET', KEYS[2], unpack(fields))
        if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
        return 1
        """)

    /// Move due scheduled messages to the front of their queue (RPUSH: consumed next), at most ARGV[2].
    /// Each member is removed with ZREM first, so two workers racing move it exactly once.
    /// KEYS: scheduled zset. ARGV: now (seconds), limit.
    static let promoteDue = RedisScript(name: "promote_due", source: """
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
        local moved = 0
        for _, member in ipairs(due) do
          if redis.call('ZREM', KEYS[1], member) == 1 then
            local nl = string.find(member, '\\n', 1, true)
            if nl then
              redis.call('RPUSH', string.sub(member, 1, nl - 1), string.sub(member, nl + 1))
              moved = moved + 1
            end
          end
        end
        return moved
        """)

    /// Hand a held message back to its queue the way kombu's restore does (RPUSH, consumed next),
    /// only if this holder still has it in `unacked`. KEYS: unacked, unacked_index, target list.
    /// ARGV: delivery tag, envelope to push.
    static let restore = RedisScript(name: "restore", source: """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('RPUSH', KEYS[3], ARGV[2])
        return 1
        """)

    /// The kombu visibility sweep: every `unacked` entry older than the cutoff goes back to its queue.
    /// KEYS: unacked, unacked_index. ARGV: cutoff (seconds), limit. Returns the number restored.
    /// The queue comes from the stored `[envelope, exchange, routing_key]`; the band from its priority.
    static let restoreStale = RedisScript(name: "restore_stale", source: """
        local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
        local restored = 0
        for _, tag in ipairs(stale) do
          local raw = redis.call('HGET', KEYS[1], tag)
          redis.call('ZREM', KEYS[2], tag)
          redis.call('HDEL', KEYS[1], tag)
          if raw then
            local ok, entry = pcall(cjson.decode, raw)
            if ok and type(entry) == 'table' and type(entry[1]) == 'table' then
              local env = entry[1]
              local props = env['properties'] or {}
              local info = props['delivery_info'] or {}
              info['redelivered'] = true
              props['delivery_info'] = info
              env['properties'] = props
              local headers = env['headers'] or {}
              headers['redelivered'] = true
              env['headers'] = headers
              local queue = entry[3] or info['routing_key'] or 'celery'
              local p = tonumber(props['priority']) or 0
              local step = 0
              for s in string.gmatch(ARGV[3], '%d+') do
                if tonumber(s) <= p then step = tonumber(s) end
              end
              local list = queue
              if step > 0 then list = queue .. ARGV[4] .. step end
              redis.call('RPUSH', list, cjson.encode(env))
              restored = restored + 1
            end
          end
        end
        return restored
        """)
}
