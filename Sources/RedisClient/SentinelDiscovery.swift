import Sockets

/// Finding the master through Sentinels: ask each in turn, then check the answer with `ROLE`
/// (a Sentinel that has not yet seen a failover may still name the dead or demoted master).
enum SentinelDiscovery {
    /// A connection to the master `configuration.sentinel` names, or to `configuration.address` when
    /// there are no Sentinels. Throws `RedisError.connect` naming every Sentinel's answer.
    static func connect(_ configuration: RedisConfiguration) async throws -> RedisConnection {
        guard let sentinel = configuration.sentinel else { return try await RedisConnection.connect(configuration) }
        var reasons: [String] = []
        for address in sentinel.sentinels {
            do {
                let master = try await masterAddress(asking: address, configuration)
                var target = configuration
                target.address = master
                let connection = try await RedisConnection.connect(target)
                let role = try await connection.send(["ROLE"])
                guard role.array?.first?.string == "master" else {
                    connection.close(reason: "not the master")
                    reasons.append("\(address) named \(master), which is not a master (\(role.array?.first?.string ?? "?"))")
                    continue
                }
                return connection
            } catch {
                reasons.append("\(address): \(error)")
            }
        }
        throw RedisError.connect(address: configuration.description,
                                 reason: "no Sentinel named a reachable master '\(sentinel.masterName)': " + reasons.joined(separator: "; "))
    }

    /// `SENTINEL get-master-addr-by-name` on one Sentinel.
    static func masterAddress(asking sentinelAddress: SocketAddress, _ configuration: RedisConfiguration) async throws -> SocketAddress {
        guard let sentinel = configuration.sentinel else { return configuration.address }
        let connection = try await RedisConnection.connect(sentinel.configuration(for: sentinelAddress, like: configuration))
        defer { connection.close() }
        let reply = try await connection.send(["SENTINEL", "get-master-addr-by-name", RedisArgument(sentinel.masterName)])
            .throwingError(command: "SENTINEL get-master-addr-by-name")
        guard let pair = reply.array, pair.count == 2, let host = pair[0].string, let port = pair[1].string.flatMap({ Int($0) }) else {
            throw RedisError.protocolError("the Sentinel does not know a master named '\(sentinel.masterName)'")
        }
        return .tcp(host: host, port: port)
    }

    /// Subscribes on the first Sentinel that answers to `+switch-master`; `onSwitch` gets the new
    /// master's address when the named master moves. Returns the subscribed connection.
    static func watch(_ configuration: RedisConfiguration,
                      onSwitch: @escaping @Sendable (SocketAddress) -> Void) async throws -> RedisConnection {
        guard let sentinel = configuration.sentinel else { throw RedisError.protocolError("no Sentinels configured") }
        var reasons: [String] = []
        for address in sentinel.sentinels {
            do {
                let connection = try await RedisConnection.connect(sentinel.configuration(for: address, like: configuration))
                let name = sentinel.masterName
                try await connection.subscribe(["+switch-master"]) { _, payload in
                    // "<name> <old-ip> <old-port> <new-ip> <new-port>"
                    let words = String(decoding: payload, as: UTF8.self).split(separator: " ")
                    guard words.count == 5, words[0] == name, let port = Int(words[4]) else { return }
                    onSwitch(.tcp(host: String(words[3]), port: port))
                }
                return connection
            } catch {
                reasons.append("\(address): \(error)")
            }
        }
        throw RedisError.connect(address: configuration.description, reason: reasons.joined(separator: "; "))
    }
}
