import Foundation
import Testing
import RedisClient
import TaskProtocol
import TaskQueue
import TestSupport
@testable import Worker

/// Completions of tasks finishing together are written in batches, each task with its own outcome.
@Suite struct CompletionBatchTests {
    func completion(_ id: String) -> ResultBackend.Completion {
        ResultBackend.Completion(.success(taskID: id, result: 1), ackTag: "tag-" + id, leaseToken: "w|1")
    }

    @Test func aLoneCompletion_isWrittenAtOnce_andThoseArrivingMeanwhile_goTogetherInTheNextWrite() async throws {
        let sizes = Locked<[Int]>([])
        let gate = Locked(false)
        let batcher = CompletionBatcher(limit: 4) { batch in
            let call = sizes.withLock { $0.append(batch.count); return $0.count }
            if call == 1 { await waitUntil(timeout: 30) { gate.withLock { $0 } } }
            return .success(batch.map { .success($0.document.taskID == "fenced" ? .leaseLost : .stored) })
        }
        let first = Task { await batcher.store(completion("first")) }
        #expect(await waitUntil { sizes.withLock { $0 } == [1] }, "written alone, with no delay")
        let ids = ["a", "b", "fenced", "c", "d", "e"]
        let rest = ids.map { id in Task { (id, await batcher.store(completion(id))) } }
        #expect(await waitUntil { batcher.waitingCount == ids.count })
        gate.withLock { $0 = true }
        #expect(try await first.value.get() == .stored)
        for task in rest {
            let (id, outcome) = await task.value
            #expect(try outcome.get() == (id == "fenced" ? .leaseLost : .stored), "each caller gets its own outcome")
        }
        #expect(sizes.withLock { $0 } == [1, 4, 2], "at most `limit` per write, the rest in the write after")
    }

    @Test func aFailedWrite_failsEachOfItsMembers_andTheNextWriteStillRuns() async throws {
        struct Refused: Error {}
        let calls = Locked(0)
        let batcher = CompletionBatcher { batch in
            calls.withLock { $0 += 1 }
            return batch.first?.document.taskID == "bad" ? .failure(Refused()) : .success(batch.map { _ in .success(.stored) })
        }
        await #expect(throws: Refused.self) { try await batcher.store(completion("bad")).get() }
        #expect(try await batcher.store(completion("good")).get() == .stored)
        #expect(calls.withLock { $0 } == 2)
    }

    @Test func manyConcurrentCompletions_areAllStored_eachWithItsOwnResult() async throws {
        let h = try WorkerHarness()
        var expected: [String: JSONValue] = [:]
        var failing: Set<String> = []
        for i in 0..<400 {
            if i % 25 == 0 {
                failing.insert(try await h.submit("t.boom", []))
            } else {
                expected[try await h.submit("t.add", [.int(Int64(i)), 1000])] = .int(Int64(i) + 1000)
            }
        }
        let ids = Array(expected.keys) + Array(failing)
        h.startWorker { $0.concurrency = 16 }
        let keys = ids.map { RedisArgument(KeySpace.resultKey($0)) }
        #expect(try await waitUntil(timeout: 60) {
            (try await h.redis.send(["MGET"] + keys).array ?? []).allSatisfy { !$0.isNull }
        })
        for (id, value) in expected {
            let document = try #require(try await h.results.get(id))
            #expect(document.status == .success && document.result == value)
            #expect(try await h.broker.record(id)?.state == .success)
        }
        for id in failing {
            #expect(try await h.results.get(id)?.status == .failure)
            #expect(try await h.broker.record(id)?.state == .failure)
        }
        #expect(await waitUntil { h.worker?.processed == ids.count })
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(0), "every message acked")
        #expect(try await h.redis.send(["HLEN", RedisArgument(h.broker.keys.leases)]) == .integer(0), "every lease released")
        try await h.stopWorker()
    }
}
