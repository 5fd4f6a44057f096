import Foundation
import RedisClient
import Testing
import TaskProtocol
@testable import TaskQueue

@Suite struct StoreResultTests {
    @Test func aStaleLeaseToken_writesNothing() async throws {
        let h = try ScriptHarness()
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let held = try #require(try await h.fetchOne(message, token: "new|2"))
        let before = try await h.snapshot()
        let outcome = try await h.results.store(.success(taskID: message.id, result: 1), record: .finished(at: Date(), runtime: 1),
                                                ackTag: held.tag, leaseToken: "old|1",
                                                schedule: h.broker.scheduled(message, at: Date()))
        #expect(outcome == .leaseLost)
        #expect(try await h.snapshot() == before, "no document, no record change, no ack, nothing scheduled")
    }

    @Test func storingTwice_isTheSameAsOnce() async throws {
        let h = try ScriptHarness()
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let held = try #require(try await h.fetchOne(message, token: "w|1"))
        let document = ResultDocument.success(taskID: message.id, result: 42)
        let update = TaskRecord.Update.finished(at: Date(timeIntervalSince1970: 1_000_000), runtime: 0.5)
        #expect(try await h.results.store(document, record: update, ackTag: held.tag, leaseToken: "w|1") == .stored)
        let once = try await h.snapshot()
        #expect(try await h.results.store(document, record: update, ackTag: held.tag, leaseToken: "") == .successAlreadyStored)
        #expect(try await h.snapshot() == once)
        #expect(try await h.broker.record(message.id)?.state == .success)
        #expect(try await h.run(["HLEN", "unacked"]) == .integer(0))
    }

    @Test func retryingAStoreThatLandedUnconfirmed_isStored_notALostLease() async throws {
        let h = try ScriptHarness()
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let held = try #require(try await h.fetchOne(message, token: "w|1"))
        let document = ResultDocument.failure(taskID: message.id, exception: ExceptionInfo(type: "ValueError", message: "x"), traceback: nil)
        let update = TaskRecord.Update.finished(at: Date(timeIntervalSince1970: 1_000_000), runtime: 0.5)
        #expect(try await h.results.store(document, record: update, ackTag: held.tag, leaseToken: "w|1") == .stored)
        let once = try await h.snapshot()
        #expect(try await h.results.store(document, record: update, ackTag: held.tag, leaseToken: "w|1") == .stored)
        #expect(try await h.snapshot() == once)
        let other = ResultDocument.failure(taskID: message.id, exception: ExceptionInfo(type: "ValueError", message: "y"), traceback: nil)
        #expect(try await h.results.store(other, record: update, ackTag: held.tag, leaseToken: "w|1") == .leaseLost)
        #expect(try await h.snapshot() == once)
    }

    @Test func aRecordOfTheWrongType_isAClearError_andNothingIsWritten() async throws {
        let h = try ScriptHarness()
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let held = try #require(try await h.fetchOne(message, token: "w|1"))
        try await h.run(["DEL", RedisArgument(h.broker.keys.taskRecord(message.id))])
        try await h.run(["RPUSH", RedisArgument(h.broker.keys.taskRecord(message.id)), "not a hash"])
        let before = try await h.snapshot()
        await #expect {
            try await h.results.store(.success(taskID: message.id, result: 1), record: .finished(at: Date()),
                                      ackTag: held.tag, leaseToken: "w|1")
        } throws: { error in
            guard case .server(_, let text)? = error as? RedisError else { return false }
            return text.contains("WRONGTYPE") && text.contains(h.broker.keys.taskRecord(message.id)) && text.contains("nothing written")
        }
        #expect(try await h.snapshot() == before, "still held, no document: the ack never goes without its result")
    }

    @Test func missingKeys_areCreated_aNeverFetchedTaskGetsItsRecord() async throws {
        let h = try ScriptHarness()
        #expect(try await h.results.store(.success(taskID: "x", result: 1)) == .stored)
        #expect(try await h.broker.record("x")?.state == .success)
        #expect(try await h.results.get("x")?.result == 1)
    }
}
