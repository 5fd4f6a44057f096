import RedisClient

/// Spend a single-use ticket and write its owner's fields in one step: two clicks on one emailed link
/// can both read the ticket, but only one finds it unspent here. KEYS: the ticket hash, the owner's
/// hash (computed in Swift from the ticket's `owner`, which the script checks is unchanged).
struct RedeemTicket: ListedScriptCall {
    var ticket: String
    var ownerHash: String
    var owner: String
    /// Unix seconds; a ticket whose `expires_at` is not after it has expired.
    var now: Int64
    var unlessField: String
    var unlessValue: String
    var pairs: [(String, String)]

    var keys: [RedisArgument] { [RedisArgument(ticket), RedisArgument(ownerHash)] }
    var arguments: [RedisArgument] {
        [RedisArgument(owner), RedisArgument(String(now)), RedisArgument(unlessField), RedisArgument(unlessValue)]
            + pairs.flatMap { [RedisArgument($0.0), RedisArgument($0.1)] }
    }

    static let script = RedisScript(name: "redeem_ticket", source: KeyTypes.guarding("hh") + """
        if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 'unknown' end
        if redis.call('EXISTS', KEYS[2]) == 0 then return 'unknown' end
        if redis.call('HEXISTS', KEYS[1], 'used_at') == 1 then return 'used' end
        if tonumber(redis.call('HGET', KEYS[1], 'expires_at') or '0') <= tonumber(ARGV[2]) then return 'expired' end
        redis.call('HSET', KEYS[1], 'used_at', ARGV[2])
        if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[4] then return 'used' end
        if #ARGV > 4 then redis.call('HSET', KEYS[2], unpack(ARGV, 5)) end
        return 'redeemed'
        """)
}
