import CoreMetrics
import Foundation
import Sockets

/// The handle the rest of Celeriac uses: one shared pipelined connection, re-established on demand
/// with exponential backoff. While Redis is down, calls fail at once with `RedisError.unavailable`
/// (never hang), so an API can answer 503 and a worker can back off.
///
/// ```swift
/// let redis = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:6379/0"))
/// let pong = try await redis.send(["PING"])
/// ```
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    let state = Locked(State())
    private let scripts = Locked([String: String]())
    /// With Sentinels: the `+switch-master` subscription, the dedicated connections it closes, the hook.
    let failover = Locked(Failover())

    struct State {
        var connection: RedisConnection?
        var connecting: Task<RedisConnection, any Error>?
        var nextAttempt: Double = 0
        var backoff: Double = 0
        var lastError: String = ""
        var connectedBefore = false
    }

    public init(configuration: RedisConfiguration) {
        self.configuration = configuration
        if configuration.sentinel != nil { startWatchingSentinels() }
    }

    deinit { failover.withLock { $0.watcher?.cancel() } }

    /// Sends one command; an error reply is thrown as `RedisError.server`. With `cancellable`, a
    /// cancelled caller stops waiting at once (`RedisConnection.pipeline` says what becomes of the command).
    @discardableResult
    public func send(_ arguments: [RedisArgument], extraTimeout: Double = 0, cancellable: Bool = false) async throws -> RESPValue {
        let connection = try await currentConnection()
        let reply = try await connection.send(arguments, extraTimeout: extraTimeout, cancellable: cancellable)
        checkDemoted(reply, on: connection)
        return try reply.throwingError(command: arguments.first.map { String(decoding: $0.bytes, as: UTF8.self) } ?? "?")
    }

    /// Sends commands in one write and returns every reply (error replies included, not thrown).
    public func pipeline(_ commands: [[RedisArgument]], cancellable: Bool = false) async throws -> [RESPValue] {
        let connection = try await currentConnection()
        let replies = try await connection.pipeline(commands, cancellable: cancellable)
        for reply in replies { checkDemoted(reply, on: connection) }
        return replies
    }

    /// Runs commands inside MULTI/EXEC and returns EXEC's replies; throws if the transaction was aborted.
    public func transaction(_ commands: [[RedisArgument]]) async throws -> [RESPValue] {
        let connection = try await currentConnection()
        let replies = try await connection.pipeline([["MULTI"]] + commands + [["EXEC"]])
        for reply in replies { checkDemoted(reply, on: connection) }
        guard let exec = replies.last else { throw RedisError.protocolError("no reply to EXEC") }
        if case .error(let message) = exec { throw RedisError.server(command: "EXEC", message: message) }
        guard let results = exec.array else { throw RedisError.server(command: "EXEC", message: "transaction aborted") }
        try await confirmReplicated(on: connection)
        return results
    }

    /// Runs a Lua script by its SHA1, loading it first when the server does not know it (NOSCRIPT).
    /// `confirm: false` skips `minReplicasAck`'s WAIT, for writes whose loss in a failover costs at most a
    /// redelivery (a later confirmed write on the same master covers them: replication is in order).
    public func evaluate(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument],
                         confirm: Bool = true) async throws -> RESPValue {
        var written = RESPArguments()
        written.append(contentsOf: keys)
        written.append(contentsOf: arguments)
        return try await evaluate(script, keyCount: keys.count, arguments: written, confirm: confirm)
    }

    /// The same with KEYS and then ARGV already written (the first `keyCount` of `arguments` are the keys).
    public func evaluate(_ script: RedisScript, keyCount: Int, arguments: RESPArguments,
                         confirm: Bool = true) async throws -> RESPValue {
        let sha = try await loadedSHA(script)
        let connection = try await currentConnection()
        var reply = try await connection.send(encoded: Self.command("EVALSHA", sha, keyCount, arguments), name: "EVALSHA")
        if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
            reply = try await connection.send(encoded: Self.command("EVAL", script.source, keyCount, arguments), name: "EVAL")
        }
        checkDemoted(reply, on: connection)
        if case .error(let message) = reply { throw RedisError.server(command: "EVALSHA(\(script.name))", message: message) }
        if confirm { try await confirmReplicated(on: connection) }
        return reply
    }

    /// The same, followed in the same write by `commands` (plain reads that belong with the script's
    /// result, run by Redis right after it): the script's reply (an error reply thrown, as above) and
    /// the commands' replies (error replies returned, not thrown).
    public func evaluate(_ script: RedisScript, keyCount: Int, arguments: RESPArguments, confirm: Bool = true,
                         followedBy commands: [[RedisArgument]]) async throws -> (RESPValue, [RESPValue]) {
        let sha = try await loadedSHA(script)
        let connection = try await currentConnection()
        let names = ["EVALSHA"] + commands.map { $0.first.map { String(decoding: $0.bytes, as: UTF8.self) } ?? "?" }
        func exchange(_ how: String, _ script: String) async throws -> [RESPValue] {
            var bytes = Self.command(how, script, keyCount, arguments)
            for command in commands { RESPEncoder.encode(command, into: &bytes) }
            return try await connection.send(encoded: bytes, names: names)
        }
        var replies = try await exchange("EVALSHA", sha)
        if case .error(let message) = replies[0], message.hasPrefix("NOSCRIPT") {
            replies = try await exchange("EVAL", script.source)
        }
        for reply in replies { checkDemoted(reply, on: connection) }
        if case .error(let message) = replies[0] { throw RedisError.server(command: "EVALSHA(\(script.name))", message: message) }
        if confirm { try await confirmReplicated(on: connection) }
        return (replies[0], Array(replies.dropFirst()))
    }

    /// `commands` and then the script (EVALSHA) in one MULTI/EXEC, sent in one write: for values the
    /// script would only pass on (each ARGV string costs Redis's Lua a hash of every byte), written by
    /// plain commands in the same atomic step. Returns EXEC's replies, error replies as values: a script
    /// the server does not know answers NOSCRIPT there, after `commands` ran (the caller completes).
    /// A transaction Redis discarded (a command refused when queued: OOM, READONLY) throws that refusal.
    public func evaluate(_ script: RedisScript, keyCount: Int, arguments: RESPArguments, confirm: Bool = true,
                         after commands: [RESPArguments]) async throws -> [RESPValue] {
        let sha = try await loadedSHA(script)
        let connection = try await currentConnection()
        var bytes = RESPEncoder.encode(["MULTI"])
        for command in commands { RESPEncoder.encode(command, into: &bytes) }
        bytes.append(contentsOf: Self.command("EVALSHA", sha, keyCount, arguments))
        RESPEncoder.encode(["EXEC"], into: &bytes)
        let names = ["MULTI"] + commands.map { String(decoding: $0.bytes.prefix($0.lengths.first ?? 0), as: UTF8.self) } + ["EVALSHA", "EXEC"]
        let replies = try await connection.send(encoded: bytes, names: names)
        for reply in replies { checkDemoted(reply, on: connection) }
        guard let results = replies.last?.array else {
            for case .error(let message) in replies.dropLast() { throw RedisError.server(command: "MULTI", message: message) }
            if case .error(let message)? = replies.last { throw RedisError.server(command: "EXEC", message: message) }
            throw RedisError.server(command: "EXEC", message: "transaction aborted")
        }
        if confirm { try await confirmReplicated(on: connection) }
        return results
    }

    /// The script's SHA1, loaded (SCRIPT LOAD) the first time a call asks for it.
    private func loadedSHA(_ script: RedisScript) async throws -> String {
        if let sha = scripts.withLock({ $0[script.name] }) { return sha }
        guard let sha = try await send(["SCRIPT", "LOAD", RedisArgument(script.source)]).string else {
            throw RedisError.server(command: "SCRIPT LOAD", message: "the reply holds no SHA1")
        }
        scripts.withLock { $0[script.name] = sha }
        return sha
    }

    /// The whole command: `command`, the script (SHA1 or source) and the key count, then `arguments`.
    private static func command(_ command: String, _ script: String, _ keyCount: Int, _ arguments: RESPArguments) -> [UInt8] {
        var head = RESPArguments(capacity: 64 + (command == "EVAL" ? script.utf8.count : 0))
        head.append(command)
        head.append(script)
        head.append(keyCount)
        var out: [UInt8] = []
        out.reserveCapacity(head.bytes.count + arguments.bytes.count + 16 * (3 + arguments.count))
        RESPEncoder.encode(head, arguments, into: &out)
        return out
    }

    /// Monotonic seconds, for the backoff (a wall-clock jump must not stretch or skip it).
    private static func seconds() -> Double { Double(MonotonicClock.nanoseconds()) / 1e9 }

    /// A new connection of its own, for blocking commands (BRPOP) that would stall the shared one.
    public func dedicatedConnection() async throws -> RedisConnection {
        let connection = try await SentinelDiscovery.connect(configuration)
        if configuration.sentinel != nil { track(connection) }
        return connection
    }

    /// The event loop where the shared connection's replies arrive (connecting if needed; nil while
    /// Redis is unreachable): a task that prefers it is resumed by those replies with no thread hop.
    public func executor() async -> (any TaskExecutor)? {
        try? await currentConnection().executor
    }

    /// Closes the shared connection (callers in flight get an error).
    public func close() {
        failover.withLock { $0.watcher?.cancel() }
        let connection = state.withLock { s -> RedisConnection? in
            defer { s.connection = nil }
            return s.connection
        }
        connection?.close()
    }

    /// The live shared connection, connecting if needed; fails fast during backoff.
    private func currentConnection() async throws -> RedisConnection {
        let live = state.withLock { s -> RedisConnection? in
            if let connection = s.connection, !connection.isClosed { return connection }
            return nil
        }
        if let live { return live }
        let now = Self.seconds()
        var createdAttempt = false
        let decision: Result<Task<RedisConnection, any Error>, any Error> = state.withLock { s in
            s.connection = nil
            if let connecting = s.connecting { return .success(connecting) }
            if now < s.nextAttempt {
                return .failure(RedisError.unavailable(address: configuration.address.description, reason: s.lastError,
                                                       retryAfter: s.nextAttempt - now))
            }
            let configuration = configuration
            let task = Task { try await SentinelDiscovery.connect(configuration) }
            s.connecting = task
            createdAttempt = true
            return .success(task)
        }
        let task = try decision.get()
        do {
            let connection = try await task.value
            // Only the attempt that is current may clear it; a connection that lost the race is closed
            // (its event loop holds it while it is open, so dropping it would leak the socket).
            let (winner, reconnected) = state.withLock { s -> (RedisConnection, Bool) in
                if s.connecting == task { s.connecting = nil }
                s.backoff = 0
                s.nextAttempt = 0
                if let current = s.connection, !current.isClosed, current !== connection { return (current, false) }
                let again = s.connectedBefore && s.connection !== connection
                s.connection = connection
                s.connectedBefore = true
                return (connection, again)
            }
            if winner !== connection, createdAttempt { connection.close(reason: "a concurrent reconnect won") }
            // Every (re)connect of the shared connection; after the first, each one is a reconnect.
            if winner === connection { Counter(label: "celeriac_redis_connects_total").increment() }
            if reconnected { notifyReconnect(connection.address) }
            return winner
        } catch {
            // One failed attempt doubles the backoff once: only the caller that started it updates it,
            // however many callers were waiting on the same attempt.
            if createdAttempt {
                state.withLock { s in
                    if s.connecting == task { s.connecting = nil }
                    s.backoff = s.backoff == 0 ? configuration.initialBackoff : min(s.backoff * 2, configuration.maxBackoff)
                    s.nextAttempt = Self.seconds() + s.backoff
                    s.lastError = "\(error)"
                }
            }
            throw error
        }
    }
}

/// A Lua script with a name for errors and logs; `RedisClient.evaluate` caches its SHA1.
public struct RedisScript: Sendable {
    public let name: String
    public let source: String
    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }
}

/// A value behind a lock: the small shared-state tool for classes that are not actors.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    public init(_ value: Value) { self.value = value }
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
