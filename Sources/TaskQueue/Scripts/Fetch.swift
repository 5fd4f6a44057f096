import RedisClient

/// Reliable fetch: pop up to `count` messages, first lists first, and record that this worker holds
/// each (kombu's `unacked` + `unacked_index`, and Celeriac's lease) in the same atomic step, so no
/// crash can lose one between the pop and the hold.
///
/// The task records are not written here: a record's key comes from the popped message's id, and
/// no script builds a key from a value it read. The script tells which messages will run (no
/// eta/expires, not revoked) and `RecordFetched` writes their records right after, with the keys
/// passed by name (one more round trip per batch, not per task). A crash between the two leaves a
/// held, leased message whose record still says PENDING; the lease sweep hands it back as usual.
/// Returns a flat array of 8 per message: {list, message, tag or false, will run 0/1, task id or
/// false, task name or false, queue, retries}.
struct Fetch: ListedScriptCall {
    var unacked: String
    var unackedIndex: String
    var leases: String
    var revoked: String
    /// The lists in priority order.
    var lists: [String]
    var now: Double
    var leaseToken: String
    var count: Int

    var keys: [RedisArgument] { ([unacked, unackedIndex, leases, revoked] + lists).map { RedisArgument($0) } }
    var arguments: [RedisArgument] { [RedisArgument(now), RedisArgument(leaseToken), RedisArgument(count)] }

    /// Not waited for by `--min-replicas-ack`: a fetch lost in a failover leaves the message in its list
    /// on the new master (it runs again: a counted duplicate), and the completion's confirmed write
    /// covers it (replication is in order). Saves a WAIT per fetch batch.
    static let needsReplicaAck = false

    static let script = RedisScript(name: "fetch", source: KeyTypes.guarding("hzhzl") + """
        local out = {}
        local want = tonumber(ARGV[3]) * 8
        local i = 5
        while i <= #KEYS and #out < want do
          local raw = redis.call('RPOP', KEYS[i])
          if not raw then
            i = i + 1
          else
            local ok, env = pcall(cjson.decode, raw)
            local tag, runs, id, name, queue, retries = false, 0, false, false, KEYS[i], 0
            if ok and type(env) == 'table' and type(env['properties']) == 'table'
               and type(env['properties']['delivery_tag']) == 'string'
               and type(env['properties']['delivery_info']) == 'table' then
              tag = env['properties']['delivery_tag']
              if type(env['properties']['delivery_info']['routing_key']) == 'string' then
                queue = env['properties']['delivery_info']['routing_key']
              end
              redis.call('ZADD', KEYS[2], ARGV[1], tag)
              redis.call('HSET', KEYS[1], tag, '[' .. raw .. ', "", ' .. cjson.encode(queue) .. ']')
              redis.call('HSET', KEYS[3], tag, ARGV[2])
              local h = env['headers']
              if type(h) == 'table' and type(h['id']) == 'string' and type(h['task']) == 'string'
                 and (h['eta'] == nil or h['eta'] == cjson.null) and (h['expires'] == nil or h['expires'] == cjson.null)
                 and not redis.call('ZSCORE', KEYS[4], h['id']) then
                runs = 1
                name = h['task']
                retries = tonumber(h['retries']) or 0
              end
            end
            if ok and type(env) == 'table' and type(env['headers']) == 'table' and type(env['headers']['id']) == 'string' then
              id = env['headers']['id']
            end
            out[#out + 1] = KEYS[i]
            out[#out + 1] = raw
            out[#out + 1] = tag
            out[#out + 1] = runs
            out[#out + 1] = id
            out[#out + 1] = name
            out[#out + 1] = queue
            out[#out + 1] = retries
          end
        end
        return out
        """)
}
