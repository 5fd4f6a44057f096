import Foundation
import Sockets
import Testing
@testable import RedisClient
import TestSupport

/// The connection as a socket on the event loop: auto-pipelining, monotonic deadlines, cancellation
/// and failure, against a real redis-server.
@Suite struct RedisConnectionLoopTests {
    /// Reads loop-confined state of `connection` on its loop thread.
    private func onLoop<T: Sendable>(_ connection: RedisConnection, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            connection.loop.execute { continuation.resume(returning: body()) }
        }
    }

    @Test func commandsOfConcurrentCallersOnTheLoop_leaveInOneWrite() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        let connection = try await RedisConnection.connect(try RedisConfiguration(url: server.url))
        defer { connection.close() }
        let before = connection.writeCalls.load(ordering: .relaxed)
        // Handlers on the loop (as HTTP handlers are) issue 200 commands in the same turn.
        let replies = try await Task(executorPreference: connection.loop) {
            try await withThrowingTaskGroup(of: (Int, RESPValue).self) { group in
                for i in 0..<200 { group.addTask { (i, try await connection.send(["ECHO", RedisArgument("m\(i)")])) } }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
        }.value
        #expect(replies.count == 200)
        #expect((0..<200).allSatisfy { replies[$0]?.string == "m\($0)" }, "each caller gets its own reply")
        let writes = connection.writeCalls.load(ordering: .relaxed) - before
        #expect(writes <= 2, "200 commands left in \(writes) writes")
    }

    @Test func commandsIssuedWhileAWriteIsInFlight_leaveInItsNextWrite() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        let connection = try await RedisConnection.connect(try RedisConfiguration(url: server.url))
        defer { connection.close() }
        // A caller is sending (it holds the writer role): everyone else only appends.
        connection.shared.withLock { $0.writer = true }
        let before = connection.writeCalls.load(ordering: .relaxed)
        let callers = (0..<200).map { i in Task { try await connection.send(["ECHO", RedisArgument("p\(i)")]) } }
        #expect(await waitUntil(timeout: 30) { connection.pendingCount == 200 })
        #expect(connection.writeCalls.load(ordering: .relaxed) == before, "nobody wrote while the write was in flight")
        // The writer's next round takes everything appended meanwhile.
        connection.writeOut()
        #expect(connection.writeCalls.load(ordering: .relaxed) - before == 1)
        for (i, caller) in callers.enumerated() { #expect(try await caller.value.string == "p\(i)") }
    }

    @Test func aHungServer_failsTheCommandAtItsDeadline_andTheConnectionIsDiscarded() async throws {
        let server = try RedisServer.start()
        defer { server.resume(); server.stop() }
        var configuration = try RedisConfiguration(url: server.url)
        configuration.commandTimeout = 0.3
        let connection = try await RedisConnection.connect(configuration)
        defer { connection.close() }
        #expect(try await connection.send(["PING"]) == .simpleString("PONG"))
        server.pause()
        let start = MonotonicClock.nanoseconds()
        await #expect { try await connection.send(["PING"], extraTimeout: 0.2) } throws: { error in
            guard case .timeout(let command, let address, let seconds)? = error as? RedisError else { return false }
            return command == "PING" && address == "127.0.0.1:\(server.port)" && seconds == 0.5
        }
        let elapsed = Double(MonotonicClock.nanoseconds() - start) / 1e9
        // The error is the deadline's own (`.timeout`, 0.5 s); the upper bound only says the call did not
        // hang: the test run's start-up can keep this task from resuming for seconds after the loop failed it.
        #expect(elapsed >= 0.45 && elapsed < 30, "deadline of 0.3 s + 0.2 s extra, took \(elapsed) s")
        #expect(connection.isClosed)
        await #expect(throws: RedisError.self) { try await connection.send(["PING"]) }
    }

    @Test func aCancelledCaller_returnsAtOnce_andTheConnectionStaysUsable() async throws {
        let server = try RedisServer.start()
        defer { server.resume(); server.stop() }
        let connection = try await RedisConnection.connect(try RedisConfiguration(url: server.url))
        defer { connection.close() }
        server.pause()
        let waiting = Task { try await connection.send(["ECHO", "discarded"], cancellable: true) }
        // The command is on its way; the server cannot answer while paused.
        #expect(await waitUntil(timeout: 30) { await onLoop(connection) { connection.pendingCount == 1 } })
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(!connection.isClosed)
        server.resume()
        // The late reply to the cancelled ECHO is discarded; the next caller gets its own.
        #expect(try await connection.send(["ECHO", "mine"]).string == "mine")
        #expect(try await connection.send(["PING"]) == .simpleString("PONG"))
        #expect(!connection.isClosed)
    }

    @Test func aCancelledBlockingCommand_closesTheConnection() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
        defer { client.close() }
        let connection = try await client.dedicatedConnection()
        defer { connection.close() }
        let blocked = Task { try await connection.send(["BLMOVE", "q", "q", "RIGHT", "RIGHT", "30"], extraTimeout: 30, cancellable: true) }
        #expect(await waitUntil(timeout: 30) {
            (try? await client.send(["INFO", "clients"]).string)?.contains("blocked_clients:1") == true
        })
        blocked.cancel()
        await #expect(throws: CancellationError.self) { try await blocked.value }
        #expect(await waitUntil(timeout: 30) { connection.isClosed }, "a blocked connection would stall every later command")
    }

    @Test func aConnectionThatFails_failsEveryPendingCommand_namingTheAddress() async throws {
        let server = try RedisServer.start()
        let connection = try await RedisConnection.connect(try RedisConfiguration(url: server.url))
        defer { connection.close() }
        server.pause()
        let callers = (0..<5).map { i in Task { try await connection.send(["ECHO", RedisArgument("e\(i)")]) } }
        #expect(await waitUntil(timeout: 30) { await onLoop(connection) { connection.pendingCount == 5 } })
        server.stop()  // SIGKILL: the kernel resets the socket
        for caller in callers {
            await #expect { try await caller.value } throws: { error in
                guard let error = error as? RedisError, error.isConnectivity else { return false }
                return "\(error)".contains("127.0.0.1:\(server.port)")
            }
        }
        #expect(connection.isClosed)
        // Discarded, never reused: a later command fails at once too.
        await #expect { try await connection.send(["PING"]) } throws: { error in
            guard case .connectionClosed(let address, _)? = error as? RedisError else { return false }
            return address == "127.0.0.1:\(server.port)"
        }
    }

    @Test func connectingToNothing_failsWithTheAddress_andAHandshakeErrorNamesTheCommand() async throws {
        let port = try freePort()
        await #expect { try await RedisConnection.connect(try RedisConfiguration(url: "redis://127.0.0.1:\(port)/0")) } throws: { error in
            guard case .connect(let address, let reason)? = error as? RedisError else { return false }
            return address == "127.0.0.1:\(port)" && reason.contains("refused")
        }
        let server = try RedisServer.start()
        defer { server.stop() }
        await #expect { try await RedisConnection.connect(try RedisConfiguration(url: "redis://127.0.0.1:\(server.port)/99")) } throws: { error in
            guard case .connect(_, let reason)? = error as? RedisError else { return false }
            return reason.contains("SELECT")
        }
    }

    @Test func patternSubscriber_getsMessages_andWaitUntilClosedReturnsOnClose() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
        defer { client.close() }
        let subscriber = try await client.dedicatedConnection()
        let received = Locked<[String]>([])
        try await subscriber.psubscribe(["news.*"]) { channel, payload in
            received.withLock { $0.append("\(channel):\(String(decoding: payload, as: UTF8.self))") }
        }
        try await client.send(["PUBLISH", "news.a", "1"])
        try await client.send(["PUBLISH", "other", "2"])
        try await client.send(["PUBLISH", "news.b", "3"])
        #expect(await waitUntil(timeout: 30) { received.withLock { $0.count } == 2 })
        #expect(received.withLock { $0 } == ["news.a:1", "news.b:3"])
        let waiting = Task { await subscriber.waitUntilClosed(pingEvery: 0.05) }
        // Several PINGs go by on a live connection without closing it.
        #expect(await waitUntil(timeout: 30) {
            let stats = (try? await client.send(["INFO", "commandstats"]).string) ?? ""
            guard let line = stats.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_ping:calls=") }) else { return false }
            return (Int(line.dropFirst("cmdstat_ping:calls=".count).prefix(while: \.isNumber)) ?? 0) >= 3
        })
        #expect(!subscriber.isClosed)
        subscriber.close()
        await waiting.value
        #expect(subscriber.isClosed)
    }
}
