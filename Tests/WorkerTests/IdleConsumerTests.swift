import Foundation
import RedisClient
import Sockets
import TaskProtocol
import TaskQueue
import TestSupport
import Testing
@testable import Worker

/// An idle worker's consumer runs on the event loop where its Redis replies arrive (issue 15's
/// submit→start latency): it must still hand every handler to the pool, and move between waiting
/// (on the loop) and draining a backlog (on the pool) without losing or stalling a message.
@Suite struct IdleConsumerTests {
    @Test func aHandlerStartedByAnIdleWorker_runsOffEveryEventLoop() async throws {
        let h = try WorkerHarness()
        // Where each handler ran: on a loop thread a synchronous or CPU-bound handler would stall every
        // Redis reply of the process. (Checked by thread, not by blocking one: a test that blocks a pool
        // thread slows every other suite running beside it.)
        let onLoop = Locked<[Bool]>([])
        try h.registry.register(TaskDefinition(name: "t.where", parameters: []) { _, _ in
            onLoop.withLock { $0.append(EventLoop.current != nil) }
            return "ran"
        })
        h.startWorker()
        // A task through and back first, so the next ones are taken by an idle (waiting) consumer.
        let first = try await h.submit("t.add", [1, 1])
        #expect(try await h.result(first, timeout: 30)?.result == 2)
        for _ in 0..<3 {
            let id = try await h.submit("t.where", [])
            #expect(try await h.result(id, timeout: 30)?.result == "ran")
        }
        #expect(onLoop.withLock { $0 } == [false, false, false])
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

    /// Whatever the idle consumer does between starting a handler and watching again, it must not wait
    /// for that handler to end: a second message is taken into the free slot while the first still runs.
    @Test func anIdleWorker_startsASecondTask_whileItsFirstStillRuns() async throws {
        let h = try WorkerHarness()
        let (ran, gate) = try h.registerTracker(holding: [1])
        h.startWorker { $0.concurrency = 2 }
        let first = try await h.submit("t.add", [0, 1])
        #expect(try await h.result(first, timeout: 30)?.result == 1)
        let held = try await h.submit("t.track", [1])
        #expect(try await waitUntil { ran.withLock { $0 } == [1] })
        let second = try await h.submit("t.track", [2])
        #expect(try await h.result(second, timeout: 30) != nil)
        #expect(try await h.results.get(held)?.status.isReady != true, "the first task is still held open")
        gate.withLock { $0 = true }
        #expect(try await h.result(held, timeout: 30) != nil)
        try await h.stopWorker()
    }
}
