import Foundation
import RedisClient
import Testing
import TaskProtocol
@testable import TaskQueue

/// Enqueue-once, promote, requeue, sweep, revoke and chords.
@Suite struct QueueScriptTests {
    @Test func enqueueOnce_twice_publishesOnce() async throws {
        let h = try ScriptHarness()
        let first = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let second = TaskMessage.make(task: "t", args: [], kwargs: [:])
        #expect(try await h.broker.enqueue(first, idempotencyKey: "k") == first.id)
        #expect(try await h.broker.enqueue(second, idempotencyKey: "k") == first.id)
        #expect(try await h.run(["LLEN", "celery"]) == .integer(1))
        #expect(try await h.broker.record(second.id) == nil)
    }

    @Test func enqueueOnce_onAClaimOfTheWrongType_isAClearError_andPublishesNothing() async throws {
        let h = try ScriptHarness()
        try await h.run(["HSET", RedisArgument(h.broker.keys.idempotency("k")), "a", "b"])
        let before = try await h.snapshot()
        await #expect(throws: RedisError.self) {
            try await h.broker.enqueue(TaskMessage.make(task: "t", args: [], kwargs: [:]), idempotencyKey: "k")
        }
        #expect(try await h.snapshot() == before)
    }

    @Test func promoteDue_movesEachMemberOnce_toItsPriorityBand() async throws {
        let h = try ScriptHarness()
        var options = TaskMessage.Options()
        options.priority = 7
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:], options: options)
        try await h.broker.schedule(message, at: Date(timeIntervalSinceNow: -1))
        try await h.run(["ZADD", RedisArgument(h.broker.keys.scheduled), "0", "no newline"])
        #expect(try await h.broker.promoteDue() == 1)
        #expect(try await h.broker.promoteDue() == 0)
        #expect(try await h.run(["LLEN", "celery\u{06}\u{16}6"]) == .integer(1))
        #expect(try await h.run(["ZCARD", RedisArgument(h.broker.keys.scheduled)]) == .integer(0))
    }

    @Test func requeueDeadLetter_twice_pushesOnce_toItsBand() async throws {
        let h = try ScriptHarness()
        var options = TaskMessage.Options()
        options.priority = 3
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:], options: options)
        try await h.broker.deadLetter(raw: message.encoded(), error: MessageError(field: "f", reason: "r"), queue: "celery",
                                      tag: nil, worker: "w")
        let id = try #require(try await h.broker.deadLetters().first?.objectValue?["id"]?.stringValue)
        #expect(try await h.broker.requeueDeadLetter(id))
        #expect(try await h.broker.requeueDeadLetter(id) == false)
        #expect(try await h.broker.requeueDeadLetter("missing") == false)
        #expect(try await h.run(["LLEN", "celery\u{06}\u{16}3"]) == .integer(1))
    }

    @Test func restoreStale_leavesARenewedHoldAlone_andRestoresOnce() async throws {
        let h = try ScriptHarness()
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let held = try #require(try await h.fetchOne(message, token: "w|1"))
        // Read as stale at t-10, then renewed before the write step: the script sees the new score.
        let candidate = RestoreStale.Candidate(tag: try #require(held.tag), owner: "w|1", cutoff: Date().timeIntervalSince1970 - 10,
                                               list: "celery", record: h.broker.keys.taskRecord(message.id))
        let call = RestoreStale(unacked: KeySpace.unacked, unackedIndex: KeySpace.unackedIndex, leases: h.broker.keys.leases,
                                crashes: h.broker.keys.crashes, deadLetters: h.broker.keys.deadLetters, candidates: [candidate],
                                orphanLeases: [], maxCrashes: 3, at: "now")
        let before = try await h.snapshot()
        #expect(try await call.run(on: h.redis) == .integer(0))
        #expect(try await h.snapshot() == before)
        let later = Date().addingTimeInterval(60)
        #expect(try await h.broker.restoreStale(lease: 30, visibilityTimeout: 3600, now: later) == 1)
        #expect(try await h.broker.restoreStale(lease: 30, visibilityTimeout: 3600, now: later) == 0)
        #expect(try await h.run(["LLEN", "celery"]) == .integer(1))
        #expect(try await h.run(["HLEN", RedisArgument(h.broker.keys.crashes)]) == .integer(1), "it was STARTED: one crash")
    }

    @Test func revoke_twice_isTheSameAsOnce_andAFinishedTaskStaysFinished() async throws {
        let h = try ScriptHarness()
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(message)
        let at = Date(timeIntervalSince1970: 1_000_000)
        #expect(try await h.broker.revoke(message.id, now: at) == .revoked)
        let once = try await h.snapshot()
        #expect(try await h.broker.revoke(message.id, now: at) == .revoked)
        #expect(try await h.snapshot() == once)
        try await h.results.store(.success(taskID: "done", result: 1))
        #expect(try await h.broker.revoke("done") == .alreadyFinished(.success))
        #expect(try await h.broker.revoke("never") == .unknown)
    }

    @Test func chordPart_countsOncePerTask() async throws {
        let h = try ScriptHarness()
        try await h.run(["SET", RedisArgument(KeySpace.groupKey("g", ".s")), "2"])
        for _ in 0..<2 {
            guard case .waiting = try await h.broker.chordPartReturned(groupID: "g", taskID: "a", groupIndex: 0, state: .success, result: 1)
            else { Issue.record("one part of two is not complete"); return }
        }
        guard case .complete(let parts, let token) = try await h.broker.chordPartReturned(
            groupID: "g", taskID: "b", groupIndex: 1, state: .success, result: 2) else { Issue.record("not complete"); return }
        #expect(parts.map(\.taskID) == ["a", "b"])
        try await h.broker.chordDone(groupID: "g", claimToken: token)
        guard case .waiting = try await h.broker.chordPartReturned(groupID: "g", taskID: "b", groupIndex: 1, state: .success, result: 2)
        else { Issue.record("a late duplicate must not complete it again"); return }
    }
}
