import RedisClient

/// The Lua scripts behind every multi-key operation. Each names all its keys in KEYS.
enum Scripts {
    /// Store a result document unless a SUCCESS is already stored; publish it; update the task record;
    /// and, when a delivery tag is given, acknowledge that message — all in one atomic step, so a
    /// result is never stored without its ack or acked without its result.
    /// Fencing: with a lease token, nothing is written unless the lease on the tag is still this token
    /// (a worker whose lease was taken over must not overwrite the newer attempt); returns -1 then.
    /// A revoked task's outcome is not stored (its REVOKED document stays); returns 2 then.
    /// A retry also schedules its next attempt here (ARGV[7], scored ARGV[8]), so a retry is never
    /// scheduled by a fenced-out worker, nor lost or doubled by a crash between scheduling and ack.
    /// With ARGV[9] = '1' the lease is checked but the message stays held (a chord part's result is
    /// stored before the chord hears of it, and acked after).
    /// KEYS: result key, task record, unacked, unacked_index, leases, crash counts, revoked ids, scheduled set.
    /// ARGV: document ('' writes none: ignore_result), ttl seconds, state, delivery tag or '', lease token or '',
    /// task id, scheduled member or '', its due time, keep the hold ('1') or not (''), then record field/value pairs.
    static let storeResult = RedisScript(name: "store_result", source: """
        if ARGV[4] ~= '' then
          if ARGV[5] ~= '' and redis.call('HGET', KEYS[5], ARGV[4]) ~= ARGV[5] then return -1 end
          if ARGV[9] ~= '1' then
            redis.call('HDEL', KEYS[3], ARGV[4])
            redis.call('ZREM', KEYS[4], ARGV[4])
            redis.call('HDEL', KEYS[5], ARGV[4])
            redis.call('HDEL', KEYS[6], ARGV[4])
          end
        end
        if ARGV[3] ~= 'REVOKED' and redis.call('ZSCORE', KEYS[7], ARGV[6]) then return 2 end
        local ttl = tonumber(ARGV[2])
        if ARGV[1] ~= '' then
          local current = redis.call('GET', KEYS[1])
          if current then
            local ok, doc = pcall(cjson.decode, current)
            if ok and type(doc) == 'table' and doc['status'] == 'SUCCESS' then return 0 end
          end
        end
        if ARGV[7] ~= '' then redis.call('ZADD', KEYS[8], ARGV[8], ARGV[7]) end
        if ARGV[1] ~= '' then
          if ttl > 0 then redis.call('SETEX', KEYS[1], ttl, ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1]) end
          redis.call('PUBLISH', KEYS[1], ARGV[1])
        end
        local fields = {'state', ARGV[3]}
        for i = 10, #ARGV do fields[#fields + 1] = ARGV[i] end
        redis.call('HSET', KEYS[2], unpack(fields))
        if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
        return 1
        """)

    /// Moves a held message to the scheduled set (an ETA message received early), releasing the hold
    /// in the same step, fenced like `storeResult`: nothing happens unless the lease is still this token.
    /// KEYS: scheduled set, unacked, unacked_index, leases. ARGV: due time, member, delivery tag, lease token.
    /// Returns 1, or -1 when the lease passed to another worker.
    static let scheduleHeld = RedisScript(name: "schedule_held", source: """
        if redis.call('HGET', KEYS[4], ARGV[3]) ~= ARGV[4] then return -1 end
        redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
        redis.call('HDEL', KEYS[2], ARGV[3])
        redis.call('ZREM', KEYS[3], ARGV[3])
        redis.call('HDEL', KEYS[4], ARGV[3])
        return 1
        """)

    /// A chord header task is done: record its part (once per task id and index), and when every part
    /// is in, claim the callback for this worker (Celery 5.7's Redis chord keys and rules, so Python
    /// and Celeriac workers can share a chord). KEYS: .j, .t, .s, .d, the group key, .c.
    /// ARGV: task id, encoded part `[1, id, state, result]`, group index or '+inf', chord expiry,
    /// group expiry, claim seconds, claim token.
    /// Returns {-1} after the callback went out, {ready, 0} while waiting, {ready, 1, parts} when claimed.
    static let chordPartReturn = RedisScript(name: "chord_part_return", source: """
        if redis.call('GET', KEYS[6]) == 'done' then return {-1} end
        local seen = ARGV[1] .. ':' .. ARGV[3]
        if redis.call('SISMEMBER', KEYS[4], seen) == 0 then
          redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
          redis.call('SADD', KEYS[4], seen)
        end
        local ready = redis.call('ZCARD', KEYS[1])
        if tonumber(ARGV[4]) > 0 then
          for k = 1, 4 do redis.call('EXPIRE', KEYS[k], tonumber(ARGV[4])) end
          if tonumber(ARGV[5]) > 0 then redis.call('EXPIRE', KEYS[5], tonumber(ARGV[5])) end
        end
        local size = redis.call('GET', KEYS[3])
        local diff = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
        if size and ready == tonumber(size) + diff
           and redis.call('SET', KEYS[6], ARGV[7], 'NX', 'EX', tonumber(ARGV[6])) then
          return {ready, 1, redis.call('ZRANGE', KEYS[1], 0, -1)}
        end
        return {ready, 0}
        """)

    /// The chord callback went out: if the claim is still ours, drop the chord's data and leave a
    /// 'done' mark so a late duplicate part cannot start it again. KEYS: .c, .j, .t, .s, .d.
    /// ARGV: claim token, seconds to keep the mark.
    static let chordDone = RedisScript(name: "chord_done", source: """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
        redis.call('SET', KEYS[1], 'done', 'EX', tonumber(ARGV[2]))
        return 1
        """)

    /// Publish a message unless its idempotency key was used already: the key, the LPUSH and the
    /// PENDING record in one step. KEYS: idempotency key, list, task record.
    /// ARGV: task id, envelope, task name, queue, submitted at (ISO), retries, ttl.
    /// Returns the id now stored under the key (the new one, or the one first submitted with it).
    static let enqueueOnce = RedisScript(name: "enqueue_once", source: """
        local existing = redis.call('GET', KEYS[1])
        if existing then return existing end
        redis.call('LPUSH', KEYS[2], ARGV[2])
        redis.call('HSET', KEYS[3], 'name', ARGV[3], 'queue', ARGV[4], 'state', 'PENDING', 'submitted_at', ARGV[5],
                   'retries', ARGV[6])
        redis.call('EXPIRE', KEYS[3], tonumber(ARGV[7]))
        redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[7]))
        return ARGV[1]
        """)

    /// Reliable fetch: pop up to ARGV[3] messages, first lists first, and record that this worker holds
    /// each (kombu's `unacked` + `unacked_index`, and Celeriac's lease) in the same atomic step, so no
    /// crash can lose one between the pop and the hold. A message that will run (no eta/expires, not
    /// revoked) also gets its task record updated here, saving a round trip per task: the first
    /// ARGV[8] are marked STARTED (they have free slots), the rest (prefetched) RECEIVED.
    /// KEYS: unacked, unacked_index, leases, revoked ids, then the lists in priority order.
    /// ARGV: now (seconds), lease token, max count, record prefix, worker name, now (ISO), ttl, started count.
    /// Returns a flat array {list, message, tag or false, record 0 untouched/1 STARTED/2 RECEIVED, task id or false, …}.
    static let fetch = RedisScript(name: "fetch", source: """
        local out = {}
        local want = tonumber(ARGV[3])
        local i = 5
        while i <= #KEYS and #out < want * 5 do
          local raw = redis.call('RPOP', KEYS[i])
          if not raw then
            i = i + 1
          else
            local ok, env = pcall(cjson.decode, raw)
            local tag = false
            local started = 0
            if ok and type(env) == 'table' and type(env['properties']) == 'table'
               and type(env['properties']['delivery_tag']) == 'string'
               and type(env['properties']['delivery_info']) == 'table' then
              tag = env['properties']['delivery_tag']
              local queue = env['properties']['delivery_info']['routing_key']
              if type(queue) ~= 'string' then queue = KEYS[i] end
              redis.call('ZADD', KEYS[2], ARGV[1], tag)
              redis.call('HSET', KEYS[1], tag, '[' .. raw .. ', "", ' .. cjson.encode(queue) .. ']')
              redis.call('HSET', KEYS[3], tag, ARGV[2])
              local h = env['headers']
              if type(h) == 'table' and type(h['id']) == 'string' and type(h['task']) == 'string'
                 and (h['eta'] == nil or h['eta'] == cjson.null) and (h['expires'] == nil or h['expires'] == cjson.null)
                 and not redis.call('ZSCORE', KEYS[4], h['id']) then
                local record = ARGV[4] .. h['id']
                local retries = tonumber(h['retries']) or 0
                if #out < tonumber(ARGV[8]) * 5 then
                  redis.call('HSET', record, 'name', h['task'], 'queue', queue, 'state', 'STARTED', 'worker', ARGV[5],
                             'received_at', ARGV[6], 'started_at', ARGV[6], 'retries', retries)
                  started = 1
                else
                  redis.call('HSET', record, 'name', h['task'], 'queue', queue, 'state', 'RECEIVED', 'worker', ARGV[5],
                             'received_at', ARGV[6], 'retries', retries)
                  started = 2
                end
                redis.call('HINCRBY', record, 'attempts', 1)
                redis.call('EXPIRE', record, tonumber(ARGV[7]))
              end
            end
            local id = false
            if ok and type(env) == 'table' and type(env['headers']) == 'table' and type(env['headers']['id']) == 'string' then
              id = env['headers']['id']
            end
            out[#out + 1] = KEYS[i]
            out[#out + 1] = raw
            out[#out + 1] = tag
            out[#out + 1] = started
            out[#out + 1] = id
          end
        end
        return out
        """)

    /// Revoke: unless the task already finished, remember the id (workers discard it when they fetch
    /// it and cancel it if running) and store the REVOKED document now.
    /// Workers hear of it at once on the revoke channel (ARGV[6]); their heartbeats check too.
    /// KEYS: revoked ids, result key, task record. ARGV: task id, now, document, ttl, now (ISO), revoke channel.
    /// Returns 1, or the final state when the task already finished.
    static let revoke = RedisScript(name: "revoke", source: """
        local current = redis.call('GET', KEYS[2])
        if current then
          local ok, doc = pcall(cjson.decode, current)
          if ok and type(doc) == 'table' and (doc['status'] == 'SUCCESS' or doc['status'] == 'FAILURE') then
            return doc['status']
          end
        end
        redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), ARGV[1])
        local ttl = tonumber(ARGV[4])
        redis.call('SETEX', KEYS[2], ttl, ARGV[3])
        redis.call('PUBLISH', KEYS[2], ARGV[3])
        redis.call('HSET', KEYS[3], 'state', 'REVOKED', 'revoked_at', ARGV[5])
        redis.call('EXPIRE', KEYS[3], ttl)
        redis.call('PUBLISH', ARGV[6], ARGV[1])
        return 1
        """)

    /// Requeue a dead letter: remove the entry with id ARGV[1] and push its message to its queue.
    /// KEYS: dead-letter list. ARGV: entry id, priority steps, separator. Returns the list name or false.
    static let requeueDeadLetter = RedisScript(name: "requeue_dead_letter", source: """
        local entries = redis.call('LRANGE', KEYS[1], 0, -1)
        for _, raw in ipairs(entries) do
          local ok, entry = pcall(cjson.decode, raw)
          if ok and type(entry) == 'table' and entry['id'] == ARGV[1] and type(entry['message']) == 'string' then
            local queue = entry['queue']
            if type(queue) ~= 'string' then queue = 'celery' end
            local list = queue
            local okm, env = pcall(cjson.decode, entry['message'])
            if okm and type(env) == 'table' and type(env['properties']) == 'table' then
              local p = tonumber(env['properties']['priority']) or 0
              local step = 0
              for s in string.gmatch(ARGV[2], '%d+') do
                if tonumber(s) <= p then step = tonumber(s) end
              end
              if step > 0 then list = queue .. ARGV[3] .. step end
            end
            redis.call('LREM', KEYS[1], 1, raw)
            redis.call('LPUSH', list, entry['message'])
            return list
          end
        end
        return false
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

    /// STARTED for each record still RECEIVED. KEYS: task records. ARGV: their start times.
    static let markStarted = RedisScript(name: "mark_started", source: """
        for i = 1, #KEYS do
          if redis.call('HGET', KEYS[i], 'state') == 'RECEIVED' then
            redis.call('HSET', KEYS[i], 'state', 'STARTED', 'started_at', ARGV[i])
          end
        end
        return #KEYS
        """)

    /// Hand a held message back to its queue the way kombu's restore does (RPUSH, consumed next),
    /// only if this holder still has it (its lease token, or kombu's entry when there is no token).
    /// KEYS: unacked, unacked_index, target list, leases. ARGV: delivery tag, envelope to push, token or ''.
    static let restore = RedisScript(name: "restore", source: """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
        if ARGV[3] ~= '' and redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[3] then return 0 end
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('HDEL', KEYS[4], ARGV[1])
        redis.call('RPUSH', KEYS[3], ARGV[2])
        return 1
        """)

    /// The visibility sweep, lease-aware. A message a Celeriac worker holds has a lease (its token in
    /// `leases`) renewed by every heartbeat: not renewed for `lease` seconds means that worker is gone,
    /// and the message goes back (redelivered) — or, after `maxCrashes` such returns, to the dead-letter
    /// list as a poison pill. A message a Python worker holds has no lease and keeps kombu's rule
    /// (back after `visibility` seconds), so neither side steals the other's work.
    /// Two passes, so neither kind can crowd out the other: the leases (one per message Celeriac workers
    /// hold, a short list) are checked one by one, then the index is read for entries past `visibility`.
    /// A lease whose message is no longer held (a Python worker's kombu restore took it back) is dropped.
    /// KEYS: unacked, unacked_index, leases, crash counts, dead-letter list.
    /// ARGV: now, lease, visibility, limit, priority steps "0,3,6,9", separator, maxCrashes, now as ISO-8601,
    /// task-record key prefix.
    static let restoreStale = RedisScript(name: "restore_stale", source: """
        local now = tonumber(ARGV[1])
        local limit = tonumber(ARGV[4])
        local restored = 0
        local function restore(tag, owner)
          local raw = redis.call('HGET', KEYS[1], tag)
          redis.call('ZREM', KEYS[2], tag)
          redis.call('HDEL', KEYS[1], tag)
          redis.call('HDEL', KEYS[3], tag)
          if not raw then return end
          local ok, entry = pcall(cjson.decode, raw)
          if not (ok and type(entry) == 'table' and type(entry[1]) == 'table') then return end
          local env = entry[1]
          local crashes = 0
          -- Only a task that was running counts as having killed its worker (not a prefetched one).
          local headers = env['headers'] or {}
          local running = false
          if owner and type(headers['id']) == 'string' then
            running = redis.call('HGET', ARGV[9] .. headers['id'], 'state') == 'STARTED'
          end
          if running then crashes = redis.call('HINCRBY', KEYS[4], tag, 1) end
          if owner and crashes >= tonumber(ARGV[7]) then
            redis.call('HDEL', KEYS[4], tag)
            redis.call('LPUSH', KEYS[5], cjson.encode({
              id = tag, task_id = headers['id'], task = headers['task'], queue = entry[3],
              field = 'worker', reason = 'its worker died ' .. crashes .. ' times while running it (poison pill)',
              worker = owner, at = ARGV[8], message = cjson.encode(env)}))
          else
            local props = env['properties'] or {}
            local info = props['delivery_info'] or {}
            info['redelivered'] = true
            props['delivery_info'] = info
            env['properties'] = props
            headers['redelivered'] = true
            env['headers'] = headers
            local queue = entry[3] or info['routing_key'] or 'celery'
            local p = tonumber(props['priority']) or 0
            local step = 0
            for s in string.gmatch(ARGV[5], '%d+') do
              if tonumber(s) <= p then step = tonumber(s) end
            end
            local list = queue
            if step > 0 then list = queue .. ARGV[6] .. step end
            redis.call('RPUSH', list, cjson.encode(env))
          end
          restored = restored + 1
        end
        -- Pass 1: Celeriac's leases, not renewed for `lease` seconds.
        local leaseCutoff = now - tonumber(ARGV[2])
        local held = redis.call('HGETALL', KEYS[3])
        for i = 1, #held, 2 do
          if restored >= limit then break end
          local tag = held[i]
          local score = redis.call('ZSCORE', KEYS[2], tag)
          if score then
            if tonumber(score) <= leaseCutoff then restore(tag, held[i + 1]) end
          elseif redis.call('HEXISTS', KEYS[1], tag) == 0 then
            redis.call('HDEL', KEYS[3], tag)
          end
        end
        -- Pass 2: kombu's rule for everything held longer than the visibility timeout.
        if restored < limit then
          local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[3]), 'LIMIT', 0, limit - restored)
          for _, tag in ipairs(old) do restore(tag, redis.call('HGET', KEYS[3], tag)) end
        end
        return restored
        """)
}
