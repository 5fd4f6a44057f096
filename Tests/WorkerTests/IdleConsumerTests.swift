import Foundation
import RedisClient
import TaskProtocol
import TaskQueue
import TestSupport
import Testing
@testable import Worker

/// An idle worker's consumer runs on the event loop where its Redis replies arrive (issue 15's
/// submit→start latency): it must still hand every handler to the pool, and move between waiting
/// (on the loop) and draining a backlog (on the pool) without losing or stalling a message.
@Suite struct IdleConsumerTests {
    @Test func aHandlerThatBlocksItsThread_startedByAnIdleWorker_leavesTheLoopFreeForTheNextTask() async throws {
        let h = try WorkerHarness()
        let running = Locked(false)
        let release = DispatchSemaphore(value: 0)
        try h.registry.register(TaskDefinition(name: "t.block", parameters: []) { _, _ in
            running.withLock { $0 = true }
            // Blocks its thread, not only its task, as a synchronous or CPU-bound handler does: on the
            // event loop it would stall every Redis reply of the process (the next task's too).
            _ = release.wait(timeout: .now() + 45)
            return "released"
        })
        h.startWorker()
        // A task through and back first, so the next one is taken by an idle (waiting) consumer.
        let first = try await h.submit("t.add", [1, 1])
        #expect(try await h.result(first, timeout: 30)?.result == 2)
        let blocked = try await h.submit("t.block", [])
        #expect(try await waitUntil(timeout: 30) { running.withLock { $0 } })
        let submitted = Date()
        let next = try await h.submit("t.add", [2, 3])
        #expect(try await h.result(next, timeout: 20)?.result == 5)
        #expect(Date().timeIntervalSince(submitted) < 20, "submitted and run while the first handler blocks its thread")
        release.signal()
        #expect(try await h.result(blocked, timeout: 30)?.result == "released")
        try await h.stopWorker()
    }

    @Test func anIdleWorker_drainsABurst_thenWaitsAndIsWokenAgain() async throws {
        let h = try WorkerHarness()
        h.startWorker { $0.concurrency = 2 }
        let first = try await h.submit("t.add", [0, 1])
        #expect(try await h.result(first, timeout: 30)?.result == 1)
        // Forty at once: the wake-up's fetch finds more behind its message, and the rest is a backlog.
        let ids = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<40 { group.addTask { (i, try await h.submit("t.add", [.int(Int64(i)), 1])) } }
            var ids = [String](repeating: "", count: 40)
            for try await (i, id) in group { ids[i] = id }
            return ids
        }
        for (i, id) in ids.enumerated() {
            #expect(try await h.result(id, timeout: 30)?.result == .int(Int64(i + 1)))
        }
        // Waiting again: a lone message still wakes it.
        let last = try await h.submit("t.add", [20, 22])
        #expect(try await h.result(last, timeout: 30)?.result == 42)
        try await h.stopWorker()
    }
}
