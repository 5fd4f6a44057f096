import Foundation
import RedisClient
import TaskProtocol
import TaskQueue
import Testing
import TestSupport

/// Issue 10: numbers any producer can put in a Celery message used to reach trapping conversions
/// (`UInt64(1e300 * 1e9)` for a time limit) and kill the worker with every task it ran.
@Suite struct HostileMessageTests {
    /// A well-formed `t.add(1, 2)` message with one header replaced.
    static func message(_ header: String, _ value: JSONValue) -> TaskMessage {
        var message = TaskMessage.make(task: "t.add", args: [1, 2], kwargs: [:])
        message.headers[header] = value
        return message
    }

    /// Rejected at decode: each must end as a dead letter naming the header and a FAILURE InvalidTaskError.
    static let rejected: [(String, JSONValue)] = [
        ("timelimit", [1e300, nil]), ("timelimit", [nil, 1e19]), ("timelimit", [-5, nil]), ("timelimit", ["abc", nil]),
        ("timelimit", [1, 2, 3]), ("timelimit", "60"), ("timelimit", [.bigInt("99999999999999999999999"), nil]),
        ("retries", .int(Int64.max)), ("retries", -1), ("retries", 1e300), ("retries", "3"),
        ("retries", .bigInt("99999999999999999999999")),
    ]

    @Test func aBatchOfHostileNumbers_neverKillsTheWorker_andEachGetsAnOutcome() async throws {
        let h = try WorkerHarness()
        h.startWorker()
        var rejectedIDs: [String] = []
        for (header, value) in Self.rejected {
            let message = Self.message(header, value)
            rejectedIDs.append(message.id)
            try await h.redis.send(["LPUSH", "celery", RedisArgument(message.encoded())])
        }
        // Accepted, and decided without a trap: limits of 0 mean "none", the edges of the ranges, dates
        // at the ends of what Python's datetime holds, out-of-range priorities and huge arguments.
        let runs: [(TaskMessage, JSONValue)] = [
            (Self.message("timelimit", [0, 0]), 3), (Self.message("timelimit", [604_800, 604_800]), 3),
            (Self.message("eta", "0001-01-01T00:00:00+00:00"), 3), (Self.message("retries", 1_000_000), 3),
            ({ var m = TaskMessage.make(task: "t.add", args: [1, 2], kwargs: [:])
               m.properties["priority"] = .int(Int64.max); return m }(), 3),
            ({ var m = Self.message("group_index", .int(Int64.min)); m.properties["priority"] = 1e300; return m }(), 3),
        ]
        for (message, _) in runs { try await h.redis.send(["LPUSH", "celery", RedisArgument(message.encoded())]) }
        let expired = Self.message("expires", "0001-01-01T00:00:00+00:00")
        let farAway = Self.message("eta", "9999-12-31T23:59:59.999999+00:00")
        // An integer past Int64 reaches the handler as exact digits; `args.int` refuses it (a TypeError).
        let huge = TaskMessage.make(task: "t.add", args: [.bigInt("99999999999999999999999"), 1], kwargs: [:])
        for message in [expired, farAway, huge] { try await h.redis.send(["LPUSH", "celery", RedisArgument(message.encoded())]) }

        for (id, (header, value)) in zip(rejectedIDs, Self.rejected) {
            let doc = try #require(try await h.result(id), "no outcome for \(header)=\(value.serialized())")
            #expect(doc.status == .failure)
            #expect(doc.exception?.type == "InvalidTaskError", "\(header)=\(value.serialized())")
            #expect(doc.exception?.text.contains("headers.\(header)") == true, "\(doc.exception?.text ?? "")")
        }
        let dead = try await h.broker.deadLetters(limit: 100)
        #expect(Set(dead.compactMap { $0["field"]?.stringValue }) == ["headers.timelimit", "headers.retries"])
        #expect(dead.count == Self.rejected.count)
        for (message, expected) in runs {
            let doc = try #require(try await h.result(message.id))
            #expect(doc.status == .success, "\(JSONValue.object(message.headers).serialized()) → \(doc.exception?.text ?? "")")
            #expect(doc.result == expected)
        }
        #expect(try await h.result(expired.id)?.status == .revoked)
        #expect(try await h.result(huge.id)?.exception?.type == "TypeError")
        _ = await waitUntil(timeout: 30) { (try? await h.redis.send(["ZCARD", RedisArgument(h.broker.keys.scheduled)])) == .integer(1) }
        #expect(try await h.redis.send(["ZCARD", RedisArgument(h.broker.keys.scheduled)]) == .integer(1), "the year-9999 ETA waits")
        // Still the same worker, still taking work.
        let after = try await (0..<5).asyncMap { n in try await h.submit("t.add", [.int(Int64(n)), 1]) }
        for (n, id) in after.enumerated() { #expect(try await h.result(id)?.result == .int(Int64(n) + 1)) }
        try await h.stopWorker()
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
