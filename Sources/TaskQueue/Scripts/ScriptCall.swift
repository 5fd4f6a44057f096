import RedisClient

/// One call of one of TaskQueue's Lua scripts, with its keys and arguments as named fields.
///
/// Each script lives in its own file under `Scripts/`, next to the struct that calls it; the struct
/// lays its fields out in the order the script reads them. Every key a script touches is in KEYS —
/// no script builds a key name from an argument or from a value it read — so that hash tags can make
/// the keyspace Cluster-safe later. A script that needs a key derived from data is split: the data is
/// read first, the key computed in Swift, and the script checks the data is unchanged before writing.
protocol ScriptCall: Sendable {
    /// The script this call runs.
    static var script: RedisScript { get }
    /// Writes KEYS, then ARGV, each in the order the script reads them; returns how many were keys.
    func write(to arguments: inout RESPArguments) -> Int
    /// False when losing this write in a failover costs at most a redelivery, so `--min-replicas-ack`
    /// need not wait for it (true unless a script says otherwise).
    static var needsReplicaAck: Bool { get }
}

/// A call that lists its KEYS and ARGV as arrays: the plain way, for the scripts off the hot path (the
/// submit scripts write straight into RESP instead).
protocol ListedScriptCall: ScriptCall {
    /// KEYS, in the order the script reads them.
    var keys: [RedisArgument] { get }
    /// ARGV, in the order the script reads them.
    var arguments: [RedisArgument] { get }
}

extension ListedScriptCall {
    func write(to arguments: inout RESPArguments) -> Int {
        let keys = self.keys
        arguments.append(contentsOf: keys)
        arguments.append(contentsOf: self.arguments)
        return keys.count
    }
}

extension ScriptCall {
    /// Runs the script (EVALSHA, loading it on NOSCRIPT); an error reply is thrown as `RedisError.server`.
    func run(on redis: RedisClient) async throws -> RESPValue {
        var arguments = RESPArguments()
        let keyCount = write(to: &arguments)
        return try await redis.evaluate(Self.script, keyCount: keyCount, arguments: arguments, confirm: Self.needsReplicaAck)
    }

    static var needsReplicaAck: Bool { true }
}

extension Array where Element == RedisArgument {
    /// Field/value pairs of a record update as flat arguments (`HSET key f1 v1 f2 v2 …`).
    init(pairs: [(TaskRecord.Field, String)]) {
        self = pairs.flatMap { [RedisArgument($0.0.rawValue), RedisArgument($0.1)] }
    }
}

extension RESPArguments {
    /// Field/value pairs of a record update, each field and value one argument.
    mutating func append(pairs: [(TaskRecord.Field, String)]) {
        for (field, value) in pairs {
            append(field.rawValue)
            append(value)
        }
    }
}

/// The first lines of every script: each key must be absent or of the type the script expects, or
/// the script stops with a WRONGTYPE error before writing anything (Redis does not roll a script
/// back, so a type error halfway would leave, say, an ack without its result).
enum KeyTypes {
    /// One letter per key in KEYS order — h hash, z sorted set, l list, s string, S set, - any — the
    /// last letter standing for every further key.
    static func guarding(_ types: String) -> String {
        """
        do
          local names = {h = 'hash', z = 'zset', l = 'list', s = 'string', S = 'set'}
          local types = '\(types)'
          for i = 1, #KEYS do
            local j = math.min(i, #types)
            local want = names[string.sub(types, j, j)]
            if want then
              local got = redis.call('TYPE', KEYS[i])['ok']
              if got ~= 'none' and got ~= want then
                return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got .. ', not a ' .. want .. '; nothing written')
              end
            end
          end
        end

        """
    }
}
