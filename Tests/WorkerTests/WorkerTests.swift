import Foundation
import Testing
import RedisClient
import Sockets
import Glibc
import Logging
import TaskProtocol
import TaskQueue
import TestSupport
import ServiceLifecycle
import Worker

@Suite struct WorkerTests {
    @Test func worker_runsATask_andWritesCelerysSuccessDocument() async throws {
        let h = try WorkerHarness()
        h.startWorker()
        let id = try await h.submit("t.add", [4, 5])
        let doc = try #require(try await h.result(id))
        #expect(doc.status == .success)
        #expect(doc.result == 9)
        #expect(doc.dateDone != nil)
        let record = try #require(try await h.broker.record(id))
        #expect(record.state == .success)
        #expect(record.worker == "test@host")
        #expect(record.attempts == 1)
        #expect(record.fields["started_at"] != nil && record.fields["finished_at"] != nil)
        // Acked: nothing stays in kombu's unacked structures.
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(0))
        try await h.stopWorker()
    }

    @Test func concurrency3_runsThreeOneSecondTasks_atTheSameTime() async throws {
        let h = try WorkerHarness()
        // Queued before the worker starts, so all three are there at once.
        var ids: [String] = []
        for _ in 0..<3 { ids.append(try await h.submit("t.sleep", [1])) }
        h.startWorker { $0.concurrency = 3 }
        for id in ids { #expect(try await h.result(id)?.status == .success) }
        // Judged on the worker's own timestamps, so a busy test machine cannot fake or hide it:
        // all three started before the first one finished.
        var starts: [Date] = []
        var ends: [Date] = []
        for id in ids {
            let record = try #require(try await h.broker.record(id))
            starts.append(try #require(record.fields["started_at"].flatMap(CeleryDate.parse)))
            ends.append(try #require(record.fields["finished_at"].flatMap(CeleryDate.parse)))
        }
        // One after another, the last would start only after the first ended (and the batch would
        // take 3 s or more); no bound on wall time, which a loaded machine stretches.
        #expect(starts.max()! < ends.min()!, "all three ran at the same time")
        try await h.stopWorker()
    }

    @Test func slowTask_neverStallsTheOthers() async throws {
        let h = try WorkerHarness()
        h.startWorker { $0.concurrency = 2 }
        // Long enough that a loaded machine cannot finish the twenty quick ones after it (was 5 s: flaky under load).
        let slow = try await h.submit("t.sleep", [30])
        var quick: [String] = []
        for i in 0..<20 { quick.append(try await h.submit("t.add", [.int(Int64(i)), 1])) }
        for id in quick { #expect(try await h.result(id, timeout: 4)?.status == .success) }
        #expect(try await h.results.get(slow) == nil, "the slow task is still running")
        h.worker?.requestShutdown()
    }

    @Test func failingTask_storesFailureWithExceptionTypeAndMessage() async throws {
        let h = try WorkerHarness()
        h.startWorker()
        let id = try await h.submit("t.boom", [])
        let doc = try #require(try await h.result(id))
        #expect(doc.status == .failure)
        #expect(doc.exception == ExceptionInfo(type: "ValueError", message: "kaboom"))
        #expect(doc.traceback?.contains("ValueError: kaboom") == true)
        try await h.stopWorker()
    }

    @Test func unregisteredTask_becomesNotRegisteredFailure_likeCelery() async throws {
        let h = try WorkerHarness()
        h.startWorker()
        let id = try await h.submit("app.nope", [])
        let doc = try #require(try await h.result(id))
        #expect(doc.status == .failure)
        #expect(doc.exception == ExceptionInfo(type: "NotRegistered", message: [.string("app.nope")], module: "celery.exceptions"))
        #expect(doc.traceback == nil)
        try await h.stopWorker()
    }

    @Test(arguments: ["handmade-task-v4-POISON-two-element-body.json", "handmade-task-v8-LOST-no-delivery-tag.json",
                      "handmade-task-v9-LOST-no-delivery-info.json"])
    func malformedMessage_goesToDeadLetters_andTheQueueKeepsMoving(fixture: String) async throws {
        let h = try WorkerHarness()
        h.startWorker()
        try await h.redis.send(["LPUSH", "celery", RedisArgument(try h.fixture(fixture))])
        let after = try await h.submit("t.add", [1, 1])
        #expect(try await h.result(after)?.result == 2)
        let dead = try await h.broker.deadLetters()
        #expect(dead.count == 1)
        let entry = try #require(dead.first)
        #expect(entry["field"]?.stringValue?.isEmpty == false)
        #expect(entry["reason"]?.stringValue?.isEmpty == false)
        #expect(entry["message"]?.stringValue == String(decoding: try h.fixture(fixture), as: UTF8.self))
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(0))
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(0))
        try await h.stopWorker()
    }

    @Test func notJSONAtAll_isDeadLettered() async throws {
        let h = try WorkerHarness()
        h.startWorker()
        try await h.redis.send(["LPUSH", "celery", "this is not json"])
        let ok = await waitUntil(timeout: 30) { (try? await h.broker.deadLetters().count) == 1 }
        #expect(ok)
        #expect(try await h.broker.deadLetters().first?["field"] == "envelope")
        try await h.stopWorker()
    }

    @Test func expiredMessage_isRevoked_notRun() async throws {
        let h = try WorkerHarness()
        h.startWorker()
        var options = TaskMessage.Options()
        options.expires = Date().addingTimeInterval(-60)
        let id = try await h.submit("t.add", [1, 2], options: options)
        let doc = try #require(try await h.result(id))
        #expect(doc.status == .revoked)
        #expect(doc.exception?.type == "TaskRevokedError")
        try await h.stopWorker()
    }

    @Test func countdown_waitsInTheScheduledSet_thenRuns() async throws {
        let h = try WorkerHarness()
        h.startWorker()
        // Far off: the worker keeps it in Redis's scheduled set, not only in its memory.
        var later = TaskMessage.Options()
        later.eta = Date().addingTimeInterval(3600)
        let waiting = try await h.submit("t.add", [1, 1], options: later)
        let key = RedisArgument(h.broker.keys.scheduled)
        #expect(await waitUntil(timeout: 30) { (try? await h.redis.send(["ZCARD", key])) == .integer(1) },
                "an ETA task is kept in Redis, not only in the worker's memory")
        #expect(try await h.results.get(waiting) == nil)
        // Soon: it runs, and not before its time.
        var soon = TaskMessage.Options()
        let due = Date().addingTimeInterval(1.0)
        soon.eta = due
        let id = try await h.submit("t.add", [2, 2], options: soon)
        let doc = try #require(try await h.result(id))
        #expect(doc.result == 4)
        let doneText = try #require(doc.dateDone)
        let finished = try #require(CeleryDate.parse(doneText))
        #expect(finished >= due.addingTimeInterval(-0.01))
        #expect(try await h.redis.send(["ZCARD", key]) == .integer(1))
        try await h.stopWorker()
    }

    @Test func retry_keepsTheID_countsRetries_thenSucceeds() async throws {
        let h = try WorkerHarness()
        try h.registry.register(TaskDefinition(name: "t.flaky", parameters: []) { _, context in
            if context.retries < 2 { throw Retry(after: 0.1, reason: ExceptionInfo(type: "RuntimeError", message: "transient \(context.retries)")) }
            return .int(Int64(context.retries))
        })
        h.startWorker()
        let id = try await h.submit("t.flaky", [])
        let doc = try #require(try await h.result(id))
        #expect(doc.status == .success)
        #expect(doc.result == 2)
        #expect(try await h.broker.record(id)?.retries == 2)
        try await h.stopWorker()
    }

    @Test func aRetriedStep_staysInItsChainAndChord() async throws {
        let h = try WorkerHarness()
        try h.registry.register(TaskDefinition(name: "t.flaky", parameters: ["n"]) { args, context in
            if context.retries < 1 { throw Retry(after: 0.05, reason: ExceptionInfo(type: "RuntimeError", message: "once")) }
            return .int(try args.int("n"))
        })
        try h.registry.register(TaskDefinition(name: "t.sum", parameters: ["values"]) { args, _ in
            guard case .array(let values) = try args.value("values") else { return .null }
            return .int(values.compactMap(\.intValue).reduce(0, +))
        })
        h.startWorker()
        // A chain step: flaky(5) | add(1), sent as Celery does (the rest of the chain in embed).
        let nextID = TaskMessage.newID()
        var step = TaskMessage.make(task: "t.flaky", args: [5], kwargs: [:])
        step.embed = ["callbacks": nil, "errbacks": nil, "chord": nil,
                      "chain": [["task": "t.add", "args": [1], "kwargs": [:], "options": ["task_id": .string(nextID)],
                                 "subtask_type": nil, "immutable": false]]]
        try await h.broker.enqueue(step)
        #expect(try await h.result(nextID)?.result == 6, "the chain went on after the retry")
        // A chord header part: flaky(7) in a chord of one, whose callback is add(100).
        let group = TaskMessage.newID()
        let callbackID = TaskMessage.newID()
        try await h.redis.send(["SET", RedisArgument(KeySpace.groupKey(group, ".s")), "1"])
        var options = TaskMessage.Options()
        options.groupID = group
        options.groupIndex = 0
        var part = TaskMessage.make(task: "t.flaky", args: [7], kwargs: [:], options: options)
        part.embed = ["callbacks": nil, "errbacks": nil, "chain": nil,
                      "chord": ["task": "t.sum", "args": [], "kwargs": [:], "options": ["task_id": .string(callbackID)],
                                "subtask_type": nil, "immutable": false]]
        try await h.broker.enqueue(part)
        #expect(try await h.result(callbackID)?.result == 7, "the chord's callback ran after its part retried")
        #expect(try await h.results.get(part.id)?.groupID == group)
        try await h.stopWorker()
    }

    @Test func retriesRunOut_storesFailureWithTheOriginalError() async throws {
        let h = try WorkerHarness()
        try h.registry.register(TaskDefinition(name: "t.never", parameters: []) { _, _ in
            throw Retry(after: 0.05, reason: ExceptionInfo(type: "RuntimeError", message: "still down"), maxRetries: 1)
        })
        h.startWorker()
        let id = try await h.submit("t.never", [])
        let doc = try #require(try await h.result(id))
        #expect(doc.status == .failure)
        #expect(doc.exception == ExceptionInfo(type: "RuntimeError", message: "still down"))
        try await h.stopWorker()
    }

    @Test func warmShutdown_handsBackUnfinishedTasks_markedRedelivered() async throws {
        let h = try WorkerHarness()
        h.startWorker { $0.shutdownGrace = 0.3 }
        let id = try await h.submit("t.sleep", [30])
        let running = await waitUntil(timeout: 30) { (h.worker?.active ?? 0) == 1 }
        #expect(running)
        try await h.stopWorker()
        let back = try await h.redis.send(["LRANGE", "celery", "0", "-1"])
        let items = try #require(back.array)
        #expect(items.count == 1)
        let message = try TaskMessage.decode(try #require(items.first?.bytes))
        #expect(message.id == id)
        #expect(message.redelivered)
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(0))
    }

    @Test func worker_asALifecycleService_shutsDownWarmWithItsGroup() async throws {
        let h = try WorkerHarness()
        var configuration = WorkerConfiguration()
        configuration.nodeName = "svc@host"
        configuration.popTimeout = 30
        configuration.shutdownGrace = 30
        let worker = Worker(configuration: configuration, registry: h.registry, broker: h.broker, results: h.results,
                            logger: Logger(label: "test.worker") { _ in SwiftLogNoOpLogHandler() })
        let group = ServiceGroup(services: [worker], logger: Logger(label: "test.group") { _ in SwiftLogNoOpLogHandler() })
        let running = Task { try await group.run() }
        let id = try await h.submit("t.sleep", [1])
        #expect(await waitUntil(timeout: 30) { worker.active == 1 })
        await group.triggerGracefulShutdown()
        try await running.value
        // Warm: the running task finished within the grace period; nothing went back to the queue.
        #expect(try await h.results.get(id)?.status == .success)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(0))
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(0))
    }

    @Test func worker_cancelled_handsRunningTasksBackAtOnce() async throws {
        let h = try WorkerHarness()
        let id = try await h.submit("t.sleep", [60])
        h.startWorker { $0.shutdownGrace = 600 }
        #expect(await waitUntil(timeout: 30) { (h.worker?.active ?? 0) == 1 })
        let start = Date()
        try await h.cancelWorker()
        #expect(Date().timeIntervalSince(start) < 30, "not the 600 s grace, nor the 60 s task")
        let back = try await h.redis.send(["LRANGE", "celery", "0", "-1"]).array ?? []
        #expect(back.compactMap { $0.bytes }.compactMap { try? TaskMessage.decode($0).id } == [id])
        #expect(try await h.redis.send(["HLEN", "unacked"]) == .integer(0))
        #expect(try await h.results.get(id) == nil)
    }

    @Test func warmShutdown_letsShortTasksFinish() async throws {
        let h = try WorkerHarness()
        h.startWorker { $0.shutdownGrace = 20 }
        let id = try await h.submit("t.sleep", [2])
        #expect(await waitUntil(timeout: 30) { (h.worker?.active ?? 0) == 1 })
        try await h.stopWorker()
        #expect(try await h.results.get(id)?.status == .success)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(0))
    }

    @Test func successIsNeverOverwritten() async throws {
        let h = try WorkerHarness()
        let id = TaskMessage.newID()
        #expect(try await h.results.store(.success(taskID: id, result: 1)) == .stored)
        #expect(try await h.results.store(.failure(taskID: id, exception: ExceptionInfo(type: "X", message: "y"), traceback: nil)) == .successAlreadyStored)
        #expect(try await h.results.get(id)?.status == .success)
        #expect(try await h.redis.send(["TTL", RedisArgument(KeySpace.resultKey(id))]).integer ?? 0 > 86000)
    }

    @Test func resultIsPublished_onTheChannelOfTheSameName() async throws {
        let h = try WorkerHarness()
        let id = TaskMessage.newID()
        let channel = KeySpace.resultKey(id)
        let socket = try ClientSocket.connect(to: .tcp(host: "127.0.0.1", port: h.server.port), timeout: 2)
        try socket.sendAll(RESPEncoder.encode(["SUBSCRIBE", RedisArgument(channel)]))
        let reader = RESPReader()
        func nextReply() throws -> RESPValue? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                if let reply = try reader.next() { return reply }
                guard try socket.waitFor(events: Int16(POLLIN), timeout: 5, operation: "read") else { return nil }
                let n = try buffer.withUnsafeMutableBytes { try socket.receive(into: $0) }
                guard n > 0 else { return nil }
                try reader.feed(Array(buffer[0..<n]))
            }
        }
        #expect(try nextReply()?.array?.first?.string == "subscribe")
        let doc = ResultDocument.success(taskID: id, result: "ok")
        try await h.results.store(doc)
        let published = try #require(try nextReply()?.array)
        #expect(published.first?.string == "message")
        #expect(published[1].string == channel)
        #expect(published[2].bytes == doc.encoded())
        socket.shutdown()
    }

    @Test func priorityBands_areServedLowestStepFirst() async throws {
        let h = try WorkerHarness()
        var low = TaskMessage.Options(); low.priority = 9
        var high = TaskMessage.Options(); high.priority = 0
        let lowID = try await h.submit("t.add", [1, 0], options: low)
        let highID = try await h.submit("t.add", [2, 0], options: high)
        #expect(try await h.redis.send(["LLEN", "celery\u{06}\u{16}9"]) == .integer(1))
        h.startWorker { $0.concurrency = 1 }
        let a = try #require(try await h.result(highID))
        let b = try #require(try await h.result(lowID))
        let first = try #require(a.dateDone)
        let second = try #require(b.dateDone)
        #expect(first <= second)
        try await h.stopWorker()
    }

    @Test func staleHold_isRestoredByTheVisibilitySweep() async throws {
        let h = try WorkerHarness()
        let message = TaskMessage.make(task: "t.add", args: [3, 3], kwargs: [:])
        // A worker that died holding the message: it sits in unacked with an old score.
        try await h.broker.hold(tag: message.deliveryTag, envelope: message.encoded(), queue: "celery",
                                now: Date().addingTimeInterval(-100))
        h.startWorker { $0.visibilityTimeout = 50; $0.sweepInterval = 0.1 }
        let doc = try #require(try await h.result(message.id))
        #expect(doc.result == 6)
        try await h.stopWorker()
    }
}
