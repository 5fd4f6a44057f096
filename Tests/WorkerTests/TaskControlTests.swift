import Foundation
import Testing
import RedisClient
import TaskProtocol
import TaskQueue
import TestSupport
import Worker

@Suite struct TaskControlTests {
    @Test func retryPolicy_retriesMatchingErrors_withGrowingDelays_thenFailsWithTheLastError() async throws {
        let h = try WorkerHarness()
        let attempts = Locked<[Date]>([])
        struct Flaky: Error {}
        try h.registry.register(TaskDefinition(name: "t.policy", parameters: [],
                                               options: TaskOptions(retry: RetryPolicy(maxRetries: 2, baseDelay: 0.2, jitter: false))) { _, _ in
            attempts.withLock { $0.append(Date()) }
            throw ExceptionInfo(type: "ConnectionError", message: "down")
        })
        h.startWorker()
        let id = try await h.submit("t.policy", [])
        let doc = try #require(try await h.result(id))
        #expect(doc.status == .failure)
        #expect(doc.exception == ExceptionInfo(type: "ConnectionError", message: "down"))
        let times = attempts.withLock { $0 }
        #expect(times.count == 3, "first attempt + 2 retries")
        if times.count == 3 {
            #expect(times[1].timeIntervalSince(times[0]) >= 0.19)
            #expect(times[2].timeIntervalSince(times[1]) >= 0.39, "backoff doubles")
        }
        #expect(try await h.broker.record(id)?.retries == 2)
        try await h.stopWorker()
    }

    @Test func retryPolicy_leavesOtherErrorsAlone() async throws {
        let h = try WorkerHarness()
        let calls = Locked(0)
        try h.registry.register(TaskDefinition(name: "t.picky", parameters: [],
                                               options: TaskOptions(retry: RetryPolicy(retryOn: { ($0 as? ExceptionInfo)?.type == "Timeout" }))) { _, _ in
            calls.withLock { $0 += 1 }
            throw ExceptionInfo(type: "ValueError", message: "bad input")
        })
        h.startWorker()
        let id = try await h.submit("t.picky", [])
        #expect(try await h.result(id)?.exception?.type == "ValueError")
        #expect(calls.withLock { $0 } == 1)
        try await h.stopWorker()
    }

    @Test func softTimeLimit_cancelsTheHandler_andRecordsSoftTimeLimitExceeded() async throws {
        let h = try WorkerHarness()
        try h.registry.register(TaskDefinition(name: "t.soft", parameters: [], options: TaskOptions(softTimeLimit: 0.3)) { _, _ in
            try await Task.sleep(nanoseconds: 30_000_000_000)
            return "never"
        })
        h.startWorker()
        let start = Date()
        let id = try await h.submit("t.soft", [])
        let doc = try #require(try await h.result(id))
        #expect(doc.exception?.type == "SoftTimeLimitExceeded")
        #expect(Date().timeIntervalSince(start) < 25, "0.3 s soft limit, not the 30 s sleep")
        try await h.stopWorker()
    }

    @Test func hardTimeLimit_freesTheSlot_evenIfTheHandlerIgnoresCancellation() async throws {
        let h = try WorkerHarness()
        try h.registry.register(TaskDefinition(name: "t.stubborn", parameters: [], options: TaskOptions(timeLimit: 0.3)) { _, _ in
            // Ignores cancellation: a wait that only a hard limit can walk away from. It waits on a thread of
            // its own, not a concurrency-pool thread (blocking one of the two here slowed every test beside it).
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                Thread { usleep(40_000_000); done.resume() }.start()
            }
            return "late"
        })
        h.startWorker { $0.concurrency = 1 }
        let id = try await h.submit("t.stubborn", [])
        let after = try await h.submit("t.add", [2, 3])
        // Both answers come well before the handler's 40 s are up (the bounds leave room for a loaded machine).
        let doc = try #require(try await h.result(id, timeout: 25))
        #expect(doc.exception?.type == "TimeLimitExceeded")
        // The slot was freed: the next task ran while the stubborn handler still spins.
        #expect(try await h.result(after, timeout: 25)?.result == 5)
        h.worker?.requestShutdown()
    }

    @Test func timeLimitsFromTheMessage_overrideTheTasksOwn() async throws {
        let h = try WorkerHarness()
        h.startWorker()
        var options = TaskMessage.Options()
        options.timeLimits = (hard: nil, soft: 0.2)
        let id = try await h.submit("t.sleep", [20], options: options)
        #expect(try await h.result(id)?.exception?.type == "SoftTimeLimitExceeded")
        try await h.stopWorker()
    }

    @Test func revokedQueuedTask_neverRuns() async throws {
        let h = try WorkerHarness()
        let id = try await h.submit("t.add", [1, 1])
        #expect(try await h.broker.revoke(id) == .revoked)
        h.startWorker()
        let marker = try await h.submit("t.add", [0, 0])
        _ = try await h.result(marker)
        let doc = try #require(try await h.results.get(id))
        #expect(doc.status == .revoked)
        #expect(try await h.broker.record(id)?.attempts == 0, "it never started")
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(0))
        try await h.stopWorker()
    }

    @Test func revokedScheduledTask_neverRuns() async throws {
        let h = try WorkerHarness()
        h.startWorker()
        var options = TaskMessage.Options()
        options.eta = Date().addingTimeInterval(3600)
        let id = try await h.submit("t.add", [1, 1], options: options)
        // The worker received it and put it in the scheduled set to wait for its ETA.
        let scheduled = RedisArgument(h.broker.keys.scheduled)
        #expect(await waitUntil(timeout: 30) { (try? await h.redis.send(["ZCARD", scheduled])) == .integer(1) })
        #expect(try await h.broker.revoke(id) == .revoked)
        // Its time comes (the score is the due time): it goes back to the queue and is discarded there.
        let member = try #require(try await h.redis.send(["ZRANGE", scheduled, "0", "0"]).array?.first?.bytes)
        #expect(try await h.redis.send(["ZADD", scheduled, "XX", "0", RedisArgument(member)]) == .integer(0))
        #expect(await waitUntil(timeout: 30) { (try? await h.redis.send(["ZCARD", scheduled])) == .integer(0) })
        let marker = try await h.submit("t.add", [0, 0])
        #expect(try await h.result(marker)?.status == .success)
        #expect(await waitUntil(timeout: 30) { (try? await h.redis.send(["HLEN", "unacked"])) == .integer(0) })
        #expect(try await h.results.get(id)?.status == .revoked)
        #expect(try await h.broker.record(id)?.attempts == 0)
        try await h.stopWorker()
    }

    @Test func revokedRunningTask_isCancelled_andStaysRevoked() async throws {
        let h = try WorkerHarness()
        h.startWorker { $0.heartbeatInterval = 0.2 }
        let id = try await h.submit("t.sleep", [30])
        #expect(await waitUntil(timeout: 30) { (h.worker?.active ?? 0) == 1 })
        #expect(try await h.broker.revoke(id) == .revoked)
        let freed = await waitUntil(timeout: 30) { (h.worker?.active ?? 1) == 0 }
        #expect(freed, "the running task was cancelled")
        #expect(try await h.results.get(id)?.status == .revoked)
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(0))
        try await h.stopWorker()
    }

    @Test func revoke_reachesTheWorkerAtOnce_notAtItsNextHeartbeat() async throws {
        let h = try WorkerHarness()
        let (ran, gate) = try h.registerTracker()
        let running = try await h.submit("t.track", [1])
        let waiting = try await h.submit("t.track", [2])
        // A heartbeat a minute apart: only the revoke channel can be this quick.
        h.startWorker { $0.concurrency = 1; $0.heartbeatInterval = 60 }
        #expect(await waitUntil(timeout: 30) { (try? await h.broker.record(waiting))?.state == .received })
        // Subscribed (a revoke published before that is left to the heartbeat).
        let channel = RedisArgument(h.broker.keys.revokeChannel)
        #expect(await waitUntil(timeout: 30) {
            (try? await h.redis.send(["PUBSUB", "NUMSUB", channel]))?.array?.last == .integer(1)
        })
        // The prefetched one is marked at once …
        #expect(try await h.broker.revoke(waiting) == .revoked)
        #expect(await waitUntil(timeout: 30) { (h.worker?.revokedWaiting ?? 0) == 1 })
        // … and the running one is cancelled at once.
        #expect(try await h.broker.revoke(running) == .revoked)
        #expect(await waitUntil(timeout: 30) { (h.worker?.active ?? 1) == 0 }, "the running task was cancelled")
        #expect(await waitUntil(timeout: 30) { (try? await h.redis.send(["HLEN", "unacked"])) == .integer(0) })
        #expect(ran.withLock { $0 } == [1])
        #expect(try await h.results.get(running)?.status == .revoked)
        #expect(try await h.results.get(waiting)?.status == .revoked)
        gate.withLock { $0 = true }
        try await h.stopWorker()
    }

    @Test func chordParts_countOncePerTask_andTheCallbackIsClaimedExactlyOnce() async throws {
        let h = try WorkerHarness()
        let group = TaskMessage.newID()
        try await h.redis.send(["SET", RedisArgument(KeySpace.groupKey(group, ".s")), "2"])  // the client sets the size
        func part(_ id: String, _ index: Int64, _ value: Int64) async throws -> Broker.ChordProgress {
            try await h.broker.chordPartReturned(groupID: group, taskID: id, groupIndex: index, state: .success, result: .int(value))
        }
        guard case .waiting = try await part("a", 0, 10) else { Issue.record("one of two parts is not complete"); return }
        // A redelivered copy of the same part does not count twice.
        guard case .waiting = try await part("a", 0, 10) else { Issue.record("a duplicate part completed the chord"); return }
        // Two workers finish the last part at once (a duplicate delivery): one claim only.
        async let first = part("b", 1, 20)
        async let second = part("b", 1, 20)
        let outcomes = try await [first, second]
        let claims = outcomes.compactMap { outcome -> ([Broker.ChordPart], String)? in
            if case .complete(let parts, let token) = outcome { return (parts, token) } else { return nil }
        }
        #expect(claims.count == 1)
        let (parts, token) = try #require(claims.first)
        #expect(parts.map(\.result) == [10, 20], "in header order")
        try await h.broker.chordDone(groupID: group, claimToken: token)
        // Done: the keys are gone, and a late duplicate cannot start the callback again.
        #expect(try await h.redis.send(["EXISTS", RedisArgument(KeySpace.groupKey(group, ".j")),
                                        RedisArgument(KeySpace.groupKey(group, ".s"))]) == .integer(0))
        guard case .waiting = try await part("b", 1, 20) else { Issue.record("a late duplicate restarted the chord"); return }
    }

    @Test func revokingAFinishedTask_changesNothing_andUnknownIDsAreUnknown() async throws {
        let h = try WorkerHarness()
        h.startWorker()
        let id = try await h.submit("t.add", [1, 1])
        _ = try await h.result(id)
        #expect(try await h.broker.revoke(id) == .alreadyFinished(.success))
        #expect(try await h.results.get(id)?.status == .success)
        #expect(try await h.broker.revoke(TaskMessage.newID()) == .unknown)
        try await h.stopWorker()
    }

    @Test func deadLetter_canBeRequeued_andThenRuns() async throws {
        let h = try WorkerHarness()
        // Dead-lettered as a poison pill (its worker "died" each time), then the operator redrives it.
        let id = try await h.submit("t.add", [7, 8])
        for attempt in 1...3 {
            _ = try await h.broker.fetch(lists: ["celery"], leaseToken: "w\(attempt)|x")
            _ = try await h.broker.restoreStale(lease: 0, visibilityTimeout: 3600, maxCrashes: 3, now: Date().addingTimeInterval(1))
        }
        let entry = try #require(try await h.broker.deadLetters().first)
        let entryID = try #require(entry["id"]?.stringValue)
        #expect(try await h.broker.requeueDeadLetter(entryID))
        #expect(try await h.broker.deadLetters().isEmpty)
        #expect(try await h.broker.requeueDeadLetter(entryID) == false)
        h.startWorker()
        #expect(try await h.result(id)?.result == 15)
        try await h.stopWorker()
    }
}
