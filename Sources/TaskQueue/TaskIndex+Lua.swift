import Foundation

extension TaskIndex {
    /// Lua that the indexing scripts include after their type checks: `ix_write(id, old, new, sets, always)`
    /// and `ix_trim()`. `keys` is a Lua expression for the KEYS index of the `all` set (the state
    /// sets follow it, as `KeySpace.indexKeys` lists them, read only when a write moves a task between
    /// states: a submit passes `all` alone); `args` one for the ARGV index of the four arguments
    /// `TaskIndex.arguments(now:)` gives.
    static func lua(keys: String, args: String) -> String {
        let states = Self.stateSets.enumerated().map { "\($0.element) = KEYS[k + \($0.offset + 1)]" }.joined(separator: ", ")
        let unset = Self.unsetStates.map { "\($0) = true" }.joined(separator: ", ")
        return """
        -- What every call pays before its own work (it runs on every fetch, submit and result) is kept
        -- small: one table literal (sized once, no field added after), the state sets' table and the
        -- numbers only when needed (read as `x + 0`: one string conversion, where tonumber makes two),
        -- seven closures (a helper that only one of them called is written inline in it).
        -- `touched[key]`: true for a named set (a task name, queue or worker: it expires when unused),
        -- false for a fixed one (trimmed only); `added[key]`: members it gained in this call.
        local IX
        do
          local k, a = \(keys), \(args)
          -- Scores and TTLs go to Redis as the strings they came as: a Lua number given to redis.call
          -- is formatted with "%.17g" and parsed again, which costs about a microsecond for an epoch-ms score.
          IX = {all = KEYS[k], k = k, states = false, unset = {\(unset)}, touched = {}, added = {}, pending = {},
                scores = {}, now = ARGV[a], cutoffText = ARGV[a + 1], capText = ARGV[a + 2], ttlText = ARGV[a + 3]}
        end
        -- The state sets by state, made on first use (a submit never needs them).
        local function ix_states()
          local states = IX.states
          if not states then
            local k = IX.k
            states = {\(states)}
            IX.states = states
          end
          return states
        end
        -- Index writes never fail the script's own work: a wrong-typed index key (the scripts check only
        -- their own keys' types) leaves that task out of the history, nothing more.
        local function ix_call(...)
          local reply = redis.pcall(...)
          if type(reply) == 'table' and reply.err then return nil end
          return reply
        end
        -- Writes to the sets are staged and sent at the end (the flush in `ix_trim`): one ZADD and
        -- one ZREM per set and call, not one per task (a batch of fetches or results touches the same
        -- few sets). Per set and id the last staged operation wins, which is what the calls in order
        -- would have left; nothing in the script reads a set meanwhile but through `scores`.
        -- `pending[key]` = {ids in order, op[id] = score to add or false to remove}.
        local function ix_stage(key, id, score, named)
          local p = IX.pending[key]
          if not p then
            p = {ids = {}, op = {}}
            IX.pending[key] = p
          end
          if p.op[id] == nil then p.ids[#p.ids + 1] = id end
          p.op[id] = score
          -- A removal leaves a set to trim as it was (it only shrinks).
          if score then
            IX.touched[key] = IX.touched[key] or named or false
            IX.added[key] = IX.added[key] or 0
          end
        end
        -- `scores[id]`: the id's score in `all` (false when it is not there), once read or written.
        -- A script that indexes several ids reads them in one call first (`ix_prefetch`); then a new
        -- id is entered with the others in the flush. Otherwise a new id is entered at once with
        -- `ZADD NX`, which both enters it and tells it is new (one call, not a read and a write).
        local function ix_prefetch(ids)
          if #ids == 0 then return end
          local got = ix_call('ZMSCORE', IX.all, unpack(ids))
          if not got then return end
          for i, id in ipairs(ids) do IX.scores[id] = got[i] or false end
        end
        -- `adds` (score, id, score, id, …) into `key` in calls of 1,000 members, counted as added; `all`
        -- only gains members (NX: a task keeps the score it entered with).
        local function ix_zadd(key, adds)
          for i = 1, #adds, 2000 do
            local added
            if key == IX.all then
              added = ix_call('ZADD', key, 'NX', unpack(adds, i, math.min(i + 1999, #adds)))
            else
              added = ix_call('ZADD', key, unpack(adds, i, math.min(i + 1999, #adds)))
            end
            IX.added[key] = (IX.added[key] or 0) + (added or 0)
          end
        end
        -- A record written: a task seen for the first time (a submit or a fetch: `sets` not empty or an
        -- `always` set) enters `all` at `at` (default `now`: a batched submit gives each message its own)
        -- and joins `sets` with that score; `always` (a fetch's worker set) is joined every time; a new
        -- state moves it between state sets (PENDING and SUCCESS have none: `TaskIndex.unsetStates`).
        -- `old` is the record's state before the write (false for none). An id never seen and not being
        -- submitted or fetched is left out. The score is read only when a set is to be joined.
        -- (No closure or table is made per call: a batch calls this once per task.)
        local function ix_write(id, old, new, sets, always, at)
          local scores = IX.scores
          local score = nil
          if #sets > 0 or always then
            at = at or IX.now
            local known, entered = scores[id], false
            if known == false then
              ix_stage(IX.all, id, at, false)
              entered = true
            elseif known == nil and ix_call('ZADD', IX.all, 'NX', at, id) == 1 then
              IX.added[IX.all] = (IX.added[IX.all] or 0) + 1
              IX.touched[IX.all] = IX.touched[IX.all] or false
              entered = true
            end
            if entered then
              scores[id] = at
              score = at
              for _, key in ipairs(sets) do ix_stage(key, id, score, true) end
            else
              if scores[id] == nil then scores[id] = ix_call('ZSCORE', IX.all, id) or false end
              score = scores[id]
              if not score then return end
            end
            if always then ix_stage(always, id, score, true) end
          end
          if new then
            local unset, to = IX.unset, nil
            -- A custom state (PROGRESS…) is kept under STARTED.
            if not unset[new] then
              local states = ix_states()
              to = states[new] or states.STARTED
            end
            if old and not unset[old] then
              local states = ix_states()
              local from = states[old] or states.STARTED
              if from ~= to then ix_stage(from, id, false) end
            end
            if to then
              if score == nil then
                if scores[id] == nil then scores[id] = ix_call('ZSCORE', IX.all, id) or false end
                score = scores[id]
              end
              if score then ix_stage(to, id, score) end
            end
          end
        end
        -- The `sets` of a write that joins none (a state change only), shared rather than made per call.
        local IX_NONE = {}
        -- The end of every indexing call: the staged writes leave (one ZREM and one ZADD per set), then
        -- every set written keeps members younger than the records' lifetime and at most `cap` of them,
        -- checked whenever a call's new members cross a multiple of 128 (and whenever over the cap). A
        -- call that entered tasks in `all` counts only there (one ZCARD): every other set it touched got
        -- its members with those tasks, so all of them are trimmed when `all` is (a set may run over the
        -- cap by what it gained since its last trim, about 128 members). A call that entered none (a
        -- re-fetch joining a worker set, a failure) checks each set it touched. The named sets also live
        -- as long as a record written now (the fixed sets are bounded by the trim).
        local function ix_trim()
          local flushed = false
          for key, p in pairs(IX.pending) do
            flushed = true
            local adds, removes = {}, {}
            for _, id in ipairs(p.ids) do
              local score = p.op[id]
              if score then
                adds[#adds + 1] = score
                adds[#adds + 1] = id
              else
                removes[#removes + 1] = id
              end
            end
            for i = 1, #removes, 1000 do ix_call('ZREM', key, unpack(removes, i, math.min(i + 999, #removes))) end
            ix_zadd(key, adds)
          end
          if flushed then IX.pending = {} end
          local all, added, floor = IX.all, IX.added, math.floor
          local cutoffText, ttlText = IX.cutoffText, IX.ttlText
          local cutoff, cap, ttl = cutoffText + 0, IX.capText + 0, ttlText + 0
          local entered = (added[all] or 0) > 0
          local due, n = false, nil
          if entered then
            n = ix_call('ZCARD', all) or 0
            due = floor(n / 128) > floor((n - added[all]) / 128) or (cap > 0 and n > cap)
          end
          for key, named in pairs(IX.touched) do
            local cut, count = due, nil
            if entered then
              if key == all then count = n end
            else
              count = ix_call('ZCARD', key) or 0
              cut = floor(count / 128) > floor((count - added[key]) / 128) or (cap > 0 and count > cap)
            end
            if cut then
              if cutoff > 0 then ix_call('ZREMRANGEBYSCORE', key, '-inf', '(' .. cutoffText) end
              if cap > 0 and (count == nil or count > cap) then ix_call('ZREMRANGEBYRANK', key, 0, -(cap + 1)) end
            end
            if named and ttl > 0 then ix_call('EXPIRE', key, ttlText) end
          end
        end

        """
    }
}

extension TaskIndex {
    /// Seconds a throughput hash lives: the longest window `GET /throughput` shows (1,440 minutes) and a margin.
    public static let throughputSeconds = 1_440 * 60 + 600

    /// The minute (epoch seconds / 60) a date falls in: the throughput hash it counts in.
    public static func minute(_ date: Date) -> Int { Int((date.timeIntervalSince1970 / 60).rounded(.down)) }

    /// Lua defining `tp_count(state)` — a SUCCESS or FAILURE counts — and `tp_flush(key)`, which adds
    /// the counts to the minute's hash once per script call (a batch of completions costs two calls).
    static let countLua = """
        local TP = {}
        local function tp_count(state)
          local field = (state == 'SUCCESS' and 'succeeded') or (state == 'FAILURE' and 'failed') or nil
          if field then TP[field] = (TP[field] or 0) + 1 end
        end
        local function tp_flush(key)
          local any = false
          for field, n in pairs(TP) do
            redis.pcall('HINCRBY', key, field, n)
            any = true
          end
          if any then redis.pcall('EXPIRE', key, \(throughputSeconds)) end
        end

        """
}
