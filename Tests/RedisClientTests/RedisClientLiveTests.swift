import Foundation
import Testing
@testable import RedisClient
import TestSupport

@Suite struct RedisClientLiveTests {
    @Test func roundTrips_andPipelines_manyConcurrentCallers() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
        defer { client.close() }
        #expect(try await client.send(["PING"]) == .simpleString("PONG"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let key = RedisArgument("k\(i)")
                    let replies = try await client.pipeline([["SET", key, RedisArgument(i)], ["GET", key], ["INCR", key]])
                    #expect(replies == [.simpleString("OK"), .bulkString(Array(String(i).utf8)), .integer(Int64(i + 1))])
                }
            }
            try await group.waitForAll()
        }
        #expect(try await client.send(["DBSIZE"]) == .integer(200))
    }

    @Test func errorReplies_areThrown_withTheCommandName() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
        defer { client.close() }
        try await client.send(["SET", "s", "x"])
        await #expect { try await client.send(["INCR", "s"]) } throws: { error in
            guard case .server(let command, let message)? = error as? RedisError else { return false }
            return command == "INCR" && message.contains("not an integer")
        }
        // The connection stays usable after an error reply.
        #expect(try await client.send(["GET", "s"]).string == "x")
    }

    @Test func transaction_and_luaScripts() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
        defer { client.close() }
        let results = try await client.transaction([["SET", "a", "1"], ["INCR", "a"]])
        #expect(results == [.simpleString("OK"), .integer(2)])
        let script = RedisScript(name: "double", source: "return tonumber(redis.call('GET', KEYS[1])) * tonumber(ARGV[1])")
        #expect(try await client.evaluate(script, keys: ["a"], arguments: ["3"]) == .integer(6))
        try await client.send(["SCRIPT", "FLUSH"])
        #expect(try await client.evaluate(script, keys: ["a"], arguments: ["5"]) == .integer(10))
    }

    @Test func aScriptFollowedByReads_answersBoth_inOrder_evenAfterTheScriptCacheWasFlushed() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
        defer { client.close() }
        let script = RedisScript(name: "push", source: "return redis.call('RPUSH', KEYS[1], ARGV[1])")
        var arguments = RESPArguments()
        arguments.append("l")
        arguments.append("a")
        let reads: [[RedisArgument]] = [["LRANGE", "l", "0", "-1"], ["INCR", "l"]]
        let (pushed, replies) = try await client.evaluate(script, keyCount: 1, arguments: arguments, followedBy: reads)
        #expect(pushed == .integer(1))
        #expect(replies.first?.array?.compactMap(\.string) == ["a"], "the read sees the script's write")
        guard case .error? = replies.last else {
            Issue.record("a follower's error reply is returned, not thrown: \(replies)")
            return
        }
        try await client.send(["SCRIPT", "FLUSH"])
        let (again, more) = try await client.evaluate(script, keyCount: 1, arguments: arguments, followedBy: reads)
        #expect(again == .integer(2))
        #expect(more.first?.array?.compactMap(\.string) == ["a", "a"], "the script ran once, then the reads")
        await #expect(throws: RedisError.self) {
            _ = try await client.evaluate(script, keyCount: 1, arguments: RESPArguments(), followedBy: reads)
        }
    }

    @Test func passwordAndDatabase_fromTheURL() async throws {
        let server = try RedisServer.start(extraArguments: ["--requirepass", "s3cret"])
        defer { server.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: "redis://:s3cret@127.0.0.1:\(server.port)/3"))
        defer { client.close() }
        try await client.send(["SET", "in3", "yes"])
        #expect(try rawCommand(port: server.port, "AUTH s3cret\r\nSELECT 3\r\nGET in3\r\n").contains("yes"))
        let wrong = RedisClient(configuration: try RedisConfiguration(url: "redis://:nope@127.0.0.1:\(server.port)/0"))
        await #expect { try await wrong.send(["PING"]) } throws: { error in
            guard case .connect(_, let reason)? = error as? RedisError else { return false }
            return reason.contains("AUTH")
        }
    }

    @Test func hungServer_timesOut_insteadOfHanging() async throws {
        let server = try RedisServer.start()
        defer { server.resume(); server.stop() }
        var configuration = try RedisConfiguration(url: server.url)
        configuration.commandTimeout = 0.3
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        try await client.send(["PING"])
        server.pause()
        let start = Date()
        await #expect { try await client.send(["PING"]) } throws: { error in
            (error as? RedisError)?.isConnectivity == true && "\(error)".contains("no reply within")
        }
        #expect(Date().timeIntervalSince(start) < 25, "0.3 s command timeout, not a hang")
    }

    @Test func serverGone_failsFast_thenReconnects() async throws {
        let server = try RedisServer.start()
        let port = server.port
        var configuration = try RedisConfiguration(url: server.url)
        configuration.initialBackoff = 0.05
        configuration.maxBackoff = 0.2
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        try await client.send(["SET", "k", "v"])
        server.stop()
        await #expect(throws: RedisError.self) { try await client.send(["GET", "k"]) }
        // While down: every call fails quickly with an error naming the address.
        let start = Date()
        for _ in 0..<5 {
            await #expect { try await client.send(["PING"]) } throws: { error in
                "\(error)".contains("127.0.0.1:\(port)")
            }
        }
        #expect(Date().timeIntervalSince(start) < 25)
        // A new server on the same port: the client comes back by itself.
        let again = try RedisServer.start(extraArguments: [], onPort: port)
        defer { again.stop() }
        let back = await waitUntil(timeout: 30) { (try? await client.send(["PING"])) == .simpleString("PONG") }
        #expect(back)
    }

    @Test func blockingPop_onADedicatedConnection_doesNotStallTheSharedOne() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
        defer { client.close() }
        let blocking = try await client.dedicatedConnection()
        defer { blocking.close() }
        // A window far beyond the test run's start-up (the pool is busy for seconds): a stalled shared
        // connection would still only get its PINGs through once the BRPOP gave up, and it would pop nothing.
        async let popped = blocking.send(["BRPOP", "q", "30"], extraTimeout: 30)
        for _ in 0..<10 { try await client.send(["PING"]) }
        try await client.send(["LPUSH", "q", "job"])
        #expect(try await popped == .array([.bulkString(Array("q".utf8)), .bulkString(Array("job".utf8))]))
    }

    @Test func subscriber_getsEveryPublishedMessageInOrder_andNoticesTheServerGoing() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
        defer { client.close() }
        let subscriber = try await client.dedicatedConnection()
        defer { subscriber.close() }
        let received = Locked<[String]>([])
        try await subscriber.subscribe(["events", "other"]) { channel, payload in
            received.withLock { $0.append("\(channel):\(String(decoding: payload, as: UTF8.self))") }
        }
        for i in 0..<50 { #expect(try await client.send(["PUBLISH", "events", RedisArgument("m\(i)")]) == .integer(1)) }
        try await client.send(["PUBLISH", "other", "x"])
        try await client.send(["PUBLISH", "nobody-listens", "y"])
        #expect(await waitUntil(timeout: 30) { received.withLock { $0.count } == 51 })
        #expect(received.withLock { $0 } == (0..<50).map { "events:m\($0)" } + ["other:x"])
        server.stop()
        let noticed = Task { await subscriber.waitUntilClosed() }
        #expect(await waitUntil(timeout: 30) { subscriber.isClosed })
        await noticed.value
    }
}

@Suite struct RedisBackoffTests {
    @Test func oneFailedAttempt_doublesTheBackoffOnce_howeverManyCallersWaited() async throws {
        let port = try freePort()   // nothing listens here
        var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(port)/0")
        configuration.initialBackoff = 0.2
        configuration.maxBackoff = 5
        let client = RedisClient(configuration: configuration)
        // 50 callers share the first attempt; all fail.
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<50 { group.addTask { _ = try? await client.send(["PING"]) } }
        }
        // The next call is refused during the backoff and says how long is left: about one
        // initial backoff (0.2 s), not 0.2 × 2^49 capped at 5 s.
        do {
            try await client.send(["PING"])
            Issue.record("expected a failure")
        } catch let RedisError.unavailable(_, _, retryAfter) {
            #expect(retryAfter <= 0.21)
        } catch {
            // The backoff already passed and a new attempt failed: also fine, it was not inflated.
            #expect((error as? RedisError)?.isConnectivity == true)
        }
    }
}
