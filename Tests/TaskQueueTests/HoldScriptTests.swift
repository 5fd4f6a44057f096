import Foundation
import RedisClient
import Testing
import TaskProtocol
@testable import TaskQueue

/// Fetch, schedule-held, restore and record updates: the scripts around a held message.
@Suite struct HoldScriptTests {
    @Test func fetch_ofEmptyOrMissingLists_takesNothing() async throws {
        let h = try ScriptHarness()
        #expect(try await h.broker.fetch(lists: ["celery", "nothing-here"], leaseToken: "w|1", count: 4).isEmpty)
        #expect(try await h.snapshot().isEmpty)
    }

    @Test func fetch_writesTheRecords_withTheKeysPassedByName() async throws {
        let h = try ScriptHarness()
        let a = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let b = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(a)
        try await h.broker.enqueue(b)
        let fetched = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 2, startNow: 1, worker: "w")
        #expect(fetched.map(\.record) == [.started, .received])
        #expect(try await h.broker.record(a.id)?.state == .started)
        #expect(try await h.broker.record(b.id)?.state == .received)
        #expect(try await h.broker.record(b.id)?.attempts == 1)
    }

    @Test func fetch_fromAListOfTheWrongType_isAClearError_andHoldsNothing() async throws {
        let h = try ScriptHarness()
        try await h.broker.enqueue(TaskMessage.make(task: "t", args: [], kwargs: [:]))
        try await h.run(["SET", "broken", "x"])
        let before = try await h.snapshot()
        await #expect(throws: RedisError.self) { try await h.broker.fetch(lists: ["celery", "broken"], leaseToken: "w|1") }
        #expect(try await h.snapshot() == before, "the good list's message was not popped either")
    }

    @Test func scheduleHeld_fencedOut_writesNothing_andRunsOnce() async throws {
        let h = try ScriptHarness()
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let held = try #require(try await h.fetchOne(message, token: "w|1"))
        let before = try await h.snapshot()
        #expect(try await h.broker.schedule(message, at: Date(), releasingHold: try #require(held.tag), leaseToken: "x|9") == false)
        #expect(try await h.snapshot() == before)
        #expect(try await h.broker.schedule(message, at: Date(), releasingHold: held.tag!, leaseToken: "w|1"))
        #expect(try await h.broker.schedule(message, at: Date(), releasingHold: held.tag!, leaseToken: "w|1") == false)
        #expect(try await h.run(["ZCARD", RedisArgument(h.broker.keys.scheduled)]) == .integer(1))
    }

    @Test func restore_byAnotherHolder_writesNothing_andRestoringTwicePushesOnce() async throws {
        let h = try ScriptHarness()
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        _ = try #require(try await h.fetchOne(message, token: "w|1"))
        let before = try await h.snapshot()
        #expect(try await h.broker.restore(message, leaseToken: "x|9") == false)
        #expect(try await h.snapshot() == before)
        #expect(try await h.broker.restore(message, leaseToken: "w|1", neverStarted: true))
        #expect(try await h.broker.restore(message, leaseToken: "w|1") == false)
        #expect(try await h.run(["LLEN", "celery"]) == .integer(1))
        #expect(try await h.broker.record(message.id)?.attempts == 0)
    }

    @Test func markStarted_leavesAFinishedRecordAlone() async throws {
        let h = try ScriptHarness()
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        _ = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", startNow: 0) // nothing yet: no-op
        try await h.broker.enqueue(message)
        _ = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", startNow: 0)
        try await h.results.store(.success(taskID: message.id, result: 1))
        try await h.broker.markStarted([(message.id, Date())])
        try await h.broker.markStarted([(message.id, Date()), ("never-seen", Date())])
        #expect(try await h.broker.record(message.id)?.state == .success)
        #expect(try await h.broker.record("never-seen") == nil, "a missing record is not created")
    }
}
