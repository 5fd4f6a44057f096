import Sockets

/// Following a Sentinel failover: a `+switch-master` message or a `-READONLY` reply (the master was
/// demoted under us) closes every connection to the old master, so the next command re-asks the
/// Sentinels. Commands in flight fail with a connectivity error: the API answers 503, a worker backs off.
extension RedisClient {
    struct Failover {
        var watcher: Task<Void, Never>?
        var dedicated: [WeakConnection] = []
        var onReconnect: (@Sendable (_ address: String) -> Void)?
    }

    struct WeakConnection {
        weak var connection: RedisConnection?
    }

    /// Registers a callback run (on any thread, keep it short) each time the shared connection is
    /// re-established and each time the Sentinels announce a new master: the hook for a reconnect metric.
    public func onReconnect(_ handler: @escaping @Sendable (_ address: String) -> Void) {
        failover.withLock { $0.onReconnect = handler }
    }

    func notifyReconnect(_ address: String) {
        failover.withLock { $0.onReconnect }?(address)
    }

    /// Remembers a dedicated connection so that a failover closes it too (its owner then reconnects).
    func track(_ connection: RedisConnection) {
        failover.withLock { f in
            f.dedicated.removeAll { $0.connection == nil || $0.connection!.isClosed }
            f.dedicated.append(WeakConnection(connection: connection))
        }
    }

    /// A `-READONLY` reply means this connection's server is now a replica: drop it and rediscover.
    func checkDemoted(_ reply: RESPValue, on connection: RedisConnection) {
        guard configuration.sentinel != nil, case .error(let message) = reply, message.hasPrefix("READONLY") else { return }
        masterChanged(reason: "\(connection.address) answered READONLY")
    }

    /// Closes the shared and every dedicated connection and lifts the backoff: the next command
    /// asks the Sentinels again at once.
    func masterChanged(reason: String) {
        let shared = state.withLock { s -> RedisConnection? in
            defer { s.connection = nil; s.backoff = 0; s.nextAttempt = 0 }
            return s.connection
        }
        shared?.close(reason: "master changed: \(reason)")
        let dedicated = failover.withLock { f -> [RedisConnection] in
            defer { f.dedicated = [] }
            return f.dedicated.compactMap(\.connection)
        }
        for connection in dedicated { connection.close(reason: "master changed: \(reason)") }
    }

    /// Keeps one subscription to `+switch-master` on some Sentinel for the client's lifetime.
    func startWatchingSentinels() {
        let configuration = configuration
        let task = Task { [weak self] in
            var backoff = configuration.initialBackoff
            while !Task.isCancelled {
                do {
                    let connection = try await SentinelDiscovery.watch(configuration) { [weak self] master in
                        self?.masterChanged(reason: "the Sentinels promoted \(master)")
                        self?.notifyReconnect(master.description)
                    }
                    backoff = configuration.initialBackoff
                    await connection.waitUntilClosed(pingEvery: 2)
                    connection.close()
                } catch {}
                if self == nil || Task.isCancelled { return }
                try? await Task.sleep(nanoseconds: UInt64(backoff * 1e9))
                backoff = min(backoff * 2, configuration.maxBackoff)
            }
        }
        failover.withLock { $0.watcher = task }
    }
}
