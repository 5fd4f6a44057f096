import RedisClient

/// Move due scheduled messages to the front of their queues (RPUSH: consumed next). The caller
/// reads the due members first and passes the lists they name (a member is `list\nenvelope`); each
/// member is removed with ZREM before it is pushed, so two workers racing move it exactly once, and
/// a member another worker moved meanwhile is skipped. Returns how many were moved.
struct PromoteDue: ListedScriptCall {
    struct Item: Sendable {
        var member: [UInt8]
        /// The list it goes to, or nil for a member without one (removed, not pushed).
        var list: String?
    }

    var scheduled: String
    var items: [Item]

    /// The distinct lists, after the scheduled set.
    private var lists: [String] {
        var seen: [String] = []
        for list in items.compactMap(\.list) where !seen.contains(list) { seen.append(list) }
        return seen
    }

    var keys: [RedisArgument] { ([scheduled] + lists).map { RedisArgument($0) } }
    var arguments: [RedisArgument] {
        let lists = self.lists
        return items.flatMap { item -> [RedisArgument] in
            let index = item.list.flatMap { lists.firstIndex(of: $0) }.map { $0 + 2 } ?? 0
            return [RedisArgument(index), RedisArgument(item.member)]
        }
    }

    static let script = RedisScript(name: "promote_due", source: KeyTypes.guarding("zl") + """
        local moved = 0
        for i = 1, #ARGV, 2 do
          local member = ARGV[i + 1]
          if redis.call('ZREM', KEYS[1], member) == 1 then
            local k = tonumber(ARGV[i])
            local nl = string.find(member, '\\n', 1, true)
            if k > 0 and nl then
              redis.call('RPUSH', KEYS[k], string.sub(member, nl + 1))
              moved = moved + 1
            end
          end
        end
        return moved
        """)
}
