import Foundation
import RedisClient
import Testing
import TaskProtocol
@testable import TaskQueue

/// `scheduledMessages`: what `celery inspect scheduled` reads from the scheduled set every queue shares.
@Suite struct ScheduledInspectTests {
    @Test func scheduledMessages_listsOnlyTheAskedLists_earliestFirst_withinTheLimit() async throws {
        let h = try ScriptHarness()
        let now = Date()
        func message(_ queue: String, priority: Int? = nil) -> TaskMessage {
            var options = TaskMessage.Options()
            options.queue = queue
            options.priority = priority
            return TaskMessage.make(task: "t", args: [], kwargs: [:], options: options)
        }
        let late = message("mine"), early = message("mine", priority: 9), other = message("theirs")
        try await h.broker.schedule(late, at: now.addingTimeInterval(60))
        try await h.broker.schedule(early, at: now.addingTimeInterval(30))
        try await h.broker.schedule(other, at: now.addingTimeInterval(10))
        let lists = Set(h.broker.consumeLists(queues: ["mine"]))
        let found = try await h.broker.scheduledMessages(for: lists)
        #expect(try found.map { try TaskMessage.decode($0.envelope).id } == [early.id, late.id])
        #expect(found.map(\.list) == [h.broker.listName(for: early), h.broker.listName(for: late)])
        #expect(abs(found[0].due.timeIntervalSince(now) - 30) < 0.01)
        #expect(try await h.broker.scheduledMessages(for: lists, limit: 1).count == 1)
        // Only the first `scan` entries are read: the other queue's earlier task uses up a scan of 1.
        #expect(try await h.broker.scheduledMessages(for: lists, scan: 1).isEmpty)
    }

    @Test func scheduledMessages_skipsMembersThatAreNotListAndEnvelope() async throws {
        let h = try ScriptHarness()
        try await h.run(["ZADD", RedisArgument(h.broker.keys.scheduled), "1", "no-newline-here"])
        #expect(try await h.broker.scheduledMessages(for: ["no-newline-here"]).isEmpty)
    }
}
