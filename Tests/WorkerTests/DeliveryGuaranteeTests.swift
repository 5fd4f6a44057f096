import Foundation
import Testing
import RedisClient
import TaskProtocol
import TaskQueue
import TestSupport
import Worker

@Suite struct DeliveryGuaranteeTests {
    @Test func deadWorkersTasks_comeBackWithinTheLease_markedRedelivered() async throws {
        let h = try WorkerHarness()
        let id = try await h.submit("t.add", [20, 22])
        // A worker fetched it (atomic pop + hold + lease) and then died: nobody renews the lease.
        let taken = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "dead@host|1").first)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(0))
        #expect(try await h.redis.send(["HGET", RedisArgument(h.broker.keys.leases), RedisArgument(try #require(taken.tag))]).string == "dead@host|1")
        let start = Date()
        h.startWorker { $0.leaseTimeout = 1; $0.sweepInterval = 0.2 }
        let doc = try #require(try await h.result(id))
        #expect(doc.result == 42)
        #expect(Date().timeIntervalSince(start) < 30, "a 1 s lease, not the hour-long visibility timeout")
        #expect(try await h.broker.record(id)?.worker == "test@host")
        try await h.stopWorker()
    }

    @Test func aRetryByAWorkerWhoseLeaseWasTakenOver_schedulesNothing() async throws {
        let h = try WorkerHarness()
        let gate = Locked(false)
        try h.registry.register(TaskDefinition(name: "t.retryLate", parameters: []) { _, _ in
            while !gate.withLock({ $0 }) { try await Task.sleep(nanoseconds: 10_000_000) }
            throw Retry(after: 0, reason: ExceptionInfo(type: "RuntimeError", message: "again"))
        })
        h.startWorker()
        let id = try await h.submit("t.retryLate", [])
        #expect(await waitUntil(timeout: 30) { (h.worker?.active ?? 0) == 1 })
        // While it runs, the sweep gives its message to another worker (as after a long pause).
        let tag = try #require(try await h.redis.send(["HKEYS", RedisArgument(h.broker.keys.leases)]).array?.first?.string)
        try await h.redis.send(["HSET", RedisArgument(h.broker.keys.leases), RedisArgument(tag), "other@host|2"])
        gate.withLock { $0 = true }
        #expect(await waitUntil(timeout: 30) { (h.worker?.active ?? 1) == 0 })
        // Its retry is refused as a whole: no RETRY document, no next attempt, the new hold intact.
        #expect(try await h.results.get(id) == nil)
        #expect(try await h.redis.send(["ZCARD", RedisArgument(h.broker.keys.scheduled)]) == .integer(0))
        #expect(try await h.redis.send(["HEXISTS", "unacked", RedisArgument(tag)]) == .integer(1))
        try await h.stopWorker()
    }

    @Test func aRetry_isScheduledAndAckedInOneStep_andARevokedTasksRetryIsNot() async throws {
        let h = try WorkerHarness()
        let id = try await h.submit("t.add", [1, 1])
        let taken = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1").first)
        let tag = try #require(taken.tag)
        let message = try TaskMessage.decode(taken.raw)
        let next = h.broker.scheduled(message, at: Date().addingTimeInterval(60))
        let retry = ResultDocument.retry(taskID: id, exception: ExceptionInfo(type: "RuntimeError", message: "x"), traceback: nil)
        #expect(try await h.results.store(retry, ackTag: tag, leaseToken: "w|1", schedule: next) == .stored)
        #expect(try await h.redis.send(["ZCARD", RedisArgument(h.broker.keys.scheduled)]) == .integer(1))
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(0))
        #expect(try await h.results.get(id)?.status == .retry)
        // Revoked meanwhile: the attempt is acked, but no further attempt is scheduled.
        let other = try await h.submit("t.add", [2, 2])
        let second = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1").first)
        #expect(try await h.broker.revoke(other) == .revoked)
        let again = h.broker.scheduled(try TaskMessage.decode(second.raw), at: Date().addingTimeInterval(60))
        let otherRetry = ResultDocument.retry(taskID: other, exception: ExceptionInfo(type: "RuntimeError", message: "x"), traceback: nil)
        #expect(try await h.results.store(otherRetry, ackTag: second.tag, leaseToken: "w|1", schedule: again) == .revoked)
        #expect(try await h.redis.send(["ZCARD", RedisArgument(h.broker.keys.scheduled)]) == .integer(1))
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(0))
        #expect(try await h.results.get(other)?.status == .revoked)
    }

    @Test func anETAMessage_isScheduledOnlyByItsLeaseHolder() async throws {
        let h = try WorkerHarness()
        var options = TaskMessage.Options()
        options.eta = Date().addingTimeInterval(3600)
        _ = try await h.submit("t.add", [1, 1], options: options)
        let taken = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "old|1").first)
        let tag = try #require(taken.tag)
        let message = try TaskMessage.decode(taken.raw)
        try await h.redis.send(["HSET", RedisArgument(h.broker.keys.leases), RedisArgument(tag), "new|2"])
        #expect(try await h.broker.schedule(message, at: options.eta!, releasingHold: tag, leaseToken: "old|1") == false)
        #expect(try await h.redis.send(["ZCARD", RedisArgument(h.broker.keys.scheduled)]) == .integer(0))
        #expect(try await h.redis.send(["HEXISTS", "unacked", RedisArgument(tag)]) == .integer(1))
        #expect(try await h.broker.schedule(message, at: options.eta!, releasingHold: tag, leaseToken: "new|2"))
        #expect(try await h.redis.send(["ZCARD", RedisArgument(h.broker.keys.scheduled)]) == .integer(1))
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(0))
        #expect(try await h.redis.send(["HLEN", RedisArgument(h.broker.keys.leases)]) == .integer(0))
    }

    @Test func aWorkerWhoseLeaseWasTakenOver_cannotOverwriteTheNewAttempt() async throws {
        let h = try WorkerHarness()
        let id = try await h.submit("t.add", [1, 1])
        let taken = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "old@host|1").first)
        let tag = try #require(taken.tag)
        // The sweep decides the old holder is gone and hands the message back …
        #expect(try await h.broker.restoreStale(lease: 0, visibilityTimeout: 3600, now: Date().addingTimeInterval(1)) == 1)
        // … a new worker takes it.
        _ = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "new@host|2").first)
        // The old worker finishes late: its result is refused and the new hold stays.
        let late = try await h.results.store(.failure(taskID: id, exception: ExceptionInfo(type: "Stale", message: "old"), traceback: nil),
                                             ackTag: tag, leaseToken: "old@host|1")
        #expect(late == .leaseLost)
        #expect(try await h.results.get(id) == nil)
        #expect(try await h.redis.send(["HEXISTS", "unacked", RedisArgument(tag)]) == .integer(1))
        let current = try await h.results.store(.success(taskID: id, result: 2), ackTag: tag, leaseToken: "new@host|2")
        #expect(current == .stored)
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(0))
    }

    @Test func pythonHeldMessages_keepKombusVisibilityTimeout_andAreNotStolen() async throws {
        let h = try WorkerHarness()
        let message = TaskMessage.make(task: "t.add", args: [1, 2], kwargs: [:])
        // Held by a Python worker 60 s ago: no Celeriac lease.
        try await h.broker.hold(tag: message.deliveryTag, envelope: message.encoded(), queue: "celery", now: Date().addingTimeInterval(-60))
        #expect(try await h.broker.restoreStale(lease: 1, visibilityTimeout: 3600) == 0)
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(1))
        #expect(try await h.broker.restoreStale(lease: 1, visibilityTimeout: 30) == 1)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(1))
    }

    @Test func manyPythonHeldMessages_doNotDelayTheRecoveryOfADeadCeleriacWorkersTask() async throws {
        let h = try WorkerHarness()
        // A Python worker holds 300 messages (say ETA tasks in its memory) since long before our lease.
        for _ in 0..<300 {
            let message = TaskMessage.make(task: "t.add", args: [1, 2], kwargs: [:])
            try await h.broker.hold(tag: message.deliveryTag, envelope: message.encoded(), queue: "python",
                                    now: Date().addingTimeInterval(-120))
        }
        // A Celeriac worker took one and died.
        let id = try await h.submit("t.add", [20, 22])
        _ = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "dead@host|1").first)
        #expect(try await h.broker.restoreStale(lease: 1, visibilityTimeout: 3600, now: Date().addingTimeInterval(2), limit: 100) == 1)
        let back = try await h.redis.send(["LRANGE", "celery", "0", "-1"]).array ?? []
        #expect(back.compactMap { $0.bytes }.compactMap { try? TaskMessage.decode($0).id } == [id])
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(300), "Python's holds are left alone")
    }

    @Test func aLeaseWhoseMessageKombuRestored_isDropped() async throws {
        let h = try WorkerHarness()
        _ = try await h.submit("t.add", [1, 2])
        let taken = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1").first)
        let tag = try #require(taken.tag)
        // A Python worker's restore_visible takes it back the kombu way: unacked and index only.
        try await h.redis.send(["HDEL", "unacked", RedisArgument(tag)])
        try await h.redis.send(["ZREM", "unacked_index", RedisArgument(tag)])
        #expect(try await h.broker.restoreStale(lease: 30, visibilityTimeout: 3600) == 0)
        #expect(try await h.redis.send(["HLEN", RedisArgument(h.broker.keys.leases)]) == .integer(0))
    }

    @Test func aTaskThatKillsItsWorkerRepeatedly_isDeadLettered_asAPoisonPill() async throws {
        let h = try WorkerHarness()
        let id = try await h.submit("t.add", [1, 2])
        for attempt in 1...3 {
            _ = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "w\(attempt)|x").first)
            _ = try await h.broker.restoreStale(lease: 0, visibilityTimeout: 3600, maxCrashes: 3, now: Date().addingTimeInterval(1))
        }
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(0))
        let dead = try await h.broker.deadLetters()
        #expect(dead.count == 1)
        #expect(dead.first?["task_id"]?.stringValue == id)
        #expect(dead.first?["reason"]?.stringValue?.contains("poison") == true)
    }

    @Test func twoWorkersPromotingTheSameDueTasks_moveEachExactlyOnce() async throws {
        let h = try WorkerHarness()
        let past = Date().addingTimeInterval(-1)
        for i in 0..<300 {
            var options = TaskMessage.Options()
            options.eta = past
            try await h.broker.schedule(TaskMessage.make(task: "t.add", args: [.int(Int64(i)), 0], kwargs: [:], options: options), at: past)
        }
        let other = RedisClient(configuration: h.redis.configuration)
        defer { other.close() }
        let second = Broker(redis: other)
        async let a = withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<5 { group.addTask { try await h.broker.promoteDue(limit: 20) } }
            return try await group.reduce(0, +)
        }
        async let b = withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<5 { group.addTask { try await second.promoteDue(limit: 20) } }
            return try await group.reduce(0, +)
        }
        var moved = try await a + b
        while true {
            let more = try await h.broker.promoteDue()
            if more == 0 { break }
            moved += more
        }
        #expect(moved == 300)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(300))
        #expect(try await h.redis.send(["ZCARD", "celeriac:scheduled"]) == .integer(0))
        let ids = Set(try #require(try await h.redis.send(["LRANGE", "celery", "0", "-1"]).array).compactMap { $0.bytes }
            .compactMap { try? TaskMessage.decode($0).id })
        #expect(ids.count == 300)
    }

    @Test func fetch_isFIFO_andHonoursPriorityBands() async throws {
        let h = try WorkerHarness()
        var low = TaskMessage.Options(); low.priority = 6
        let first = try await h.submit("t.add", [1, 0])
        let second = try await h.submit("t.add", [2, 0])
        let urgentLater = try await h.submit("t.add", [3, 0], options: TaskMessage.Options())
        let lowID = try await h.submit("t.add", [4, 0], options: low)
        let lists = h.broker.consumeLists(queues: ["celery"])
        var order: [String] = []
        while let fetched = try await h.broker.fetch(lists: lists, leaseToken: "t|1").first {
            order.append(try TaskMessage.decode(fetched.raw).id)
        }
        #expect(try await h.broker.fetch(lists: lists, leaseToken: "t|1", count: 10).isEmpty)
        #expect(order == [first, second, urgentLater, lowID])
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(4))
    }

    @Test func batchFetch_takesSeveralInOrder_holdingEach() async throws {
        let h = try WorkerHarness()
        var ids: [String] = []
        for i in 0..<5 { ids.append(try await h.submit("t.add", [.int(Int64(i)), 0])) }
        let batch = try await h.broker.fetch(lists: ["celery"], leaseToken: "t|1", count: 3, worker: "w@h")
        let batchIDs = try batch.map { try TaskMessage.decode($0.raw).id }
        #expect(batchIDs == Array(ids.prefix(3)))
        #expect(batch.allSatisfy { $0.recordStarted })
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(3))
        #expect(try await h.broker.record(ids[0])?.state == .started)
        #expect(try await h.broker.record(ids[0])?.worker == "w@h")
        #expect(try await h.broker.record(ids[3])?.state == .pending)
    }

    @Test func idleWorker_wakesAtOnce_whenATaskArrives() async throws {
        let h = try WorkerHarness()
        // A poll every 30 s: a worker that only polled would take about that long to see the task.
        h.startWorker { $0.popTimeout = 30 }
        // Let it go idle: its watchers are blocked in BLMOVE.
        #expect(await waitUntil(timeout: 30) {
            (try? await h.redis.send(["CLIENT", "LIST"]).string?.contains("cmd=blmove")) == true
        })
        let start = Date()
        let id = try await h.submit("t.add", [5, 5])
        let doc = try #require(try await h.result(id, timeout: 40))
        #expect(doc.result == 10)
        // Milliseconds when idle; the bound leaves room for a loaded test machine, not for a poll.
        #expect(Date().timeIntervalSince(start) < 20, "a blocked worker picks work up without polling delay")
        // Idle again, blocked in BLMOVE for up to 30 s: a shutdown interrupts the wait.
        #expect(await waitUntil(timeout: 30) { (h.worker?.active ?? 1) == 0 })
        let stopping = Date()
        try await h.stopWorker()
        #expect(Date().timeIntervalSince(stopping) < 20, "shutdown does not wait for the 30 s poll")
    }
}

@Suite struct ShutdownAndPrefetchTests {
    @Test func shutdown_doesNotWaitForALongTaskToEnd_beforeStoppingTheConsumer() async throws {
        let h = try WorkerHarness()
        let long = try await h.submit("t.sleep", [30])
        var queued: [String] = []
        for i in 0..<3 { queued.append(try await h.submit("t.add", [.int(Int64(i)), 0])) }
        // Only the long task is queued first... then the others: with -c 1 they wait (prefetched or queued).
        h.startWorker { $0.concurrency = 1; $0.shutdownGrace = 0.5 }
        #expect(await waitUntil(timeout: 30) { (h.worker?.active ?? 0) == 1 })
        let start = Date()
        try await h.stopWorker()
        #expect(Date().timeIntervalSince(start) < 25, "grace 0.5 s, not the 30 s task")
        // Everything not finished is back in the queue; nothing was started after the request.
        let back = try await h.redis.send(["LRANGE", "celery", "0", "-1"]).array ?? []
        let ids = Set(back.compactMap { $0.bytes }.compactMap { try? TaskMessage.decode($0).id })
        #expect(ids.contains(long))
        for id in queued where try await h.results.get(id) == nil { #expect(ids.contains(id)) }
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(0))
    }

    @Test func prefetchedRestores_doNotCountAsCrashes() async throws {
        let h = try WorkerHarness()
        let id = try await h.submit("t.add", [1, 2])
        for attempt in 1...4 {
            // Prefetched (RECEIVED), never started, by a worker that then died.
            _ = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "w\(attempt)|x", count: 1, startNow: 0).first)
            _ = try await h.broker.restoreStale(lease: 0, visibilityTimeout: 3600, maxCrashes: 3, now: Date().addingTimeInterval(1))
        }
        #expect(try await h.broker.deadLetters().isEmpty)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(1))
        _ = id
    }

    @Test func aTaskRevokedWhileWaitingInThePrefetchBuffer_neverRuns() async throws {
        let h = try WorkerHarness()
        // The first holds the only slot until the test lets it go.
        let (ran, gate) = try h.registerTracker(holding: [1])
        let first = try await h.submit("t.track", [1])
        let second = try await h.submit("t.track", [2])
        h.startWorker { $0.concurrency = 1; $0.heartbeatInterval = 0.2 }
        // The second sits in the prefetch buffer (held, RECEIVED) while the first runs.
        #expect(await waitUntil(timeout: 30) { (try? await h.broker.record(second))?.state == .received })
        #expect(try await h.broker.revoke(second) == .revoked)
        // Revocations reach prefetched tasks with the worker's next heartbeat; a heartbeat that
        // starts after the revoke has finished its check by the time the one after it is written.
        let key = RedisArgument(h.broker.keys.worker("test@host"))
        var beats: Set<String> = []
        #expect(await waitUntil(timeout: 30) {
            if let beat = try? await h.redis.send(["HGET", key, "heartbeat"]).string { beats.insert(beat) }
            return beats.count >= 3
        })
        gate.withLock { $0 = true }
        #expect(try await h.result(first)?.status == .success)
        #expect(await waitUntil(timeout: 30) { (try? await h.redis.send(["HLEN", "unacked"])) == .integer(0) })
        #expect(ran.withLock { $0 } == [1])
        #expect(try await h.results.get(second)?.status == .revoked)
        try await h.stopWorker()
    }
}
