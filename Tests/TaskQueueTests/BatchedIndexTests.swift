import Foundation
import RedisClient
import Testing
import TaskProtocol
@testable import TaskQueue

/// The batched forms of the fetch and store scripts: reads done once per call (revoked ids, leases,
/// index scores, attempts) and index writes sent once per set, with each task's outcome exactly as
/// when the tasks come one by one.
@Suite struct BatchedIndexTests {
    func score(_ h: ScriptHarness, _ key: String, _ id: String) async throws -> String? {
        try await h.run(["ZSCORE", RedisArgument(key), RedisArgument(id)]).string
    }

    @Test func aBatchFetch_indexesNewAndKnownTasks_eachWithItsFirstScore() async throws {
        let h = try ScriptHarness()
        let submitted = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(submitted, now: Date(timeIntervalSince1970: 1_000))
        let fromPython = (0..<3).map { _ in TaskMessage.make(task: "t", args: [], kwargs: [:]) }
        for m in fromPython { try await h.run(["LPUSH", "celery", RedisArgument(m.encoded())]) }
        let fetched = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 4, startNow: 2, worker: "w",
                                               now: Date(timeIntervalSince1970: 2_000))
        #expect(fetched.map(\.record) == [.started, .started, .received, .received])
        let keys = h.broker.keys
        #expect(try await score(h, keys.taskIndex, submitted.id) == "1000000", "a known task keeps its first score")
        for m in fromPython { #expect(try await score(h, keys.taskIndex, m.id) == "2000000", "a new one enters at the fetch") }
        for m in [submitted] + fromPython {
            let first = m.id == submitted.id ? "1000000" : "2000000"
            for key in [keys.taskNameIndex("t"), keys.queueIndex("celery"), keys.workerIndex("w")] {
                #expect(try await score(h, key, m.id) == first, "\(key) holds it with its first score")
            }
        }
        #expect(try await h.run(["ZCARD", RedisArgument(keys.stateIndex("STARTED")!)]).integer == 2)
        #expect(try await h.run(["ZCARD", RedisArgument(keys.stateIndex("RECEIVED")!)]).integer == 2)
        #expect(try await h.broker.record(fromPython[2].id)?.state == .received)
    }

    @Test func aBatchFetch_skipsOnlyTheRevokedTask_andCountsEachAttempt() async throws {
        let h = try ScriptHarness()
        let messages = (0..<3).map { _ in TaskMessage.make(task: "t", args: [], kwargs: [:]) }
        for m in messages { try await h.broker.enqueue(m) }
        _ = try await h.broker.revoke(messages[1].id)
        let record = { (m: TaskMessage) in RedisArgument(h.broker.keys.taskRecord(m.id)) }
        try await h.run(["HSET", record(messages[0]), "attempts", "41"])
        try await h.run(["HSET", record(messages[2]), "attempts", "many"])
        let fetched = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 3, worker: "w")
        #expect(fetched.map(\.record) == [.started, .untouched, .started])
        #expect(try await h.broker.record(messages[1].id)?.state == .revoked)
        #expect(try await h.run(["HGET", record(messages[0]), "attempts"]).string == "42")
        #expect(try await h.run(["HGET", record(messages[2]), "attempts"]).string == "many", "a non-integer count stays as it is")
        for m in messages {
            #expect(try await h.run(["HEXISTS", RedisArgument(h.broker.keys.leases), RedisArgument(m.deliveryTag)]) == .integer(1),
                    "every message is held, the revoked one too")
        }
    }

    @Test func anAttemptCountOutsideTheFastPath_isStillIncrementedAsHINCRBYWould() async throws {
        let h = try ScriptHarness()
        let messages = (0..<2).map { _ in TaskMessage.make(task: "t", args: [], kwargs: [:]) }
        for m in messages { try await h.broker.enqueue(m) }
        try await h.run(["HSET", RedisArgument(h.broker.keys.taskRecord(messages[0].id)), "attempts", "-3"])
        try await h.run(["HSET", RedisArgument(h.broker.keys.taskRecord(messages[1].id)), "attempts", "12345678901"])
        _ = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 2, worker: "w")
        #expect(try await h.run(["HGET", RedisArgument(h.broker.keys.taskRecord(messages[0].id)), "attempts"]).string == "-2")
        #expect(try await h.run(["HGET", RedisArgument(h.broker.keys.taskRecord(messages[1].id)), "attempts"]).string
                == "12345678902")
    }

    @Test func aBatchOfFailures_entersTheFailureSet_withEachTasksScore() async throws {
        let h = try ScriptHarness()
        let messages = (0..<3).map { _ in TaskMessage.make(task: "t", args: [], kwargs: [:]) }
        for (i, m) in messages.enumerated() { try await h.broker.enqueue(m, now: Date(timeIntervalSince1970: Double(1_000 + i))) }
        let fetched = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 3, worker: "w")
        let batch = zip(messages, fetched).map { m, f in
            ResultBackend.Completion(.failure(taskID: m.id, exception: ExceptionInfo(type: "ValueError", message: "no"), traceback: nil),
                                     ackTag: f.tag, leaseToken: "w|1")
        }
        #expect(try await h.results.store(batch: batch).map { try? $0.get() } == [.stored, .stored, .stored])
        let failures = try #require(h.broker.keys.stateIndex("FAILURE"))
        for (i, m) in messages.enumerated() { #expect(try await score(h, failures, m.id) == "\(1_000_000 + 1_000 * i)") }
        #expect(try await h.run(["ZCARD", RedisArgument(h.broker.keys.stateIndex("STARTED")!)]).integer == 0)
    }

    @Test func oneTaskTwiceInOneCall_leavesTheIndexAsItsLastTransition() async throws {
        let h = try ScriptHarness()
        let m = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(m)
        _ = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 1, startNow: 0, worker: "w")
        // RECEIVED → STARTED → RETRY in one script call: the last staged move wins, as in order.
        let record = h.broker.keys.taskRecord(m.id)
        _ = try await h.broker.updateRecords([.init(id: m.id, record: record, update: .started(at: Date())),
                                              .init(id: m.id, record: record, update: .init(state: .retry, []))], ttl: 60)
        var members: [String: [String]] = [:]
        for bucket in TaskIndex.stateSets {
            members[bucket] = (try await h.run(["ZRANGE", RedisArgument(h.broker.keys.stateIndex(bucket)!), "0", "-1"]).array ?? [])
                .compactMap(\.string)
        }
        #expect(members.filter { !$0.value.isEmpty } == ["RETRY": [m.id]])
    }

    /// The members of every state set that holds something.
    func stateSets(_ h: ScriptHarness) async throws -> [String: [String]] {
        var members: [String: [String]] = [:]
        for bucket in TaskIndex.stateSets {
            members[bucket] = (try await h.run(["ZRANGE", RedisArgument(h.broker.keys.stateIndex(bucket)!), "0", "-1"]).array ?? [])
                .compactMap(\.string)
        }
        return members.filter { !$0.value.isEmpty }
    }

    @Test func oneNewTaskTwiceInOneFetch_entersTheIndexOnce_andEndsInItsLastState() async throws {
        let h = try ScriptHarness()
        let m = TaskMessage.make(task: "t", args: [], kwargs: [:])
        // The same message twice (a duplicate delivery): started first, then received; the first joins the
        // index through the batch's lists, the second moves it through `ix_write`, and the move must win.
        for _ in 0..<2 { try await h.run(["LPUSH", "celery", RedisArgument(m.encoded())]) }
        let fetched = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 2, startNow: 1, worker: "w",
                                               now: Date(timeIntervalSince1970: 3_000))
        #expect(fetched.map(\.record) == [.started, .received])
        let keys = h.broker.keys
        for key in [keys.taskIndex, keys.taskNameIndex("t"), keys.queueIndex("celery"), keys.workerIndex("w")] {
            #expect(try await score(h, key, m.id) == "3000000", "\(key) holds it at the fetch")
        }
        #expect(try await stateSets(h) == ["RECEIVED": [m.id]])
    }

    @Test func aFailureThenASuccessOfOneTaskInOneBatch_leavesNoStateSet() async throws {
        let h = try ScriptHarness()
        let m = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(m)
        let tag = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", startNow: 1, worker: "w").first?.tag)
        #expect(try await stateSets(h) == ["STARTED": [m.id]])
        // STARTED → FAILURE goes through `ix_write`; FAILURE → SUCCESS then leaves the set the first staged.
        let failure = ResultBackend.Completion(.failure(taskID: m.id, exception: ExceptionInfo(type: "X", message: "y"), traceback: nil),
                                               ackTag: tag, leaseToken: nil)
        let success = ResultBackend.Completion(.success(taskID: m.id, result: 1), ackTag: tag, leaseToken: nil)
        #expect(try await h.results.store(batch: [failure, success]).map { try? $0.get() } == [.stored, .stored])
        #expect(try await h.broker.record(m.id)?.state == .success)
        #expect(try await stateSets(h) == [:])
    }

    @Test func aRaceLostInsideOnePop_pushesTheRestBack_inTheirOrder() async throws {
        let h = try ScriptHarness()
        let messages = (0..<4).map { _ in TaskMessage.make(task: "t", args: [], kwargs: [:]) }
        for m in messages { try await h.broker.enqueue(m) }
        let stranger = TaskMessage.make(task: "t", args: [], kwargs: [:])
        // Expects messages[0], then a message that is not next: one RPOP takes three, two go back.
        let expected = [messages[0], stranger, messages[2]].map { m in
            FetchPeeked.Expected(list: 0, raw: m.encoded(), tag: m.deliveryTag, queueJSON: JSONValue.string(m.queue).serializedBytes(),
                                 taskID: m.id, record: h.broker.keys.taskRecord(m.id), mayRun: true,
                                 recordPairs: TaskRecord.Update.received(name: m.task, queue: m.queue, retries: 0, worker: "w",
                                                                         at: Date(), startedNow: true).pairs,
                                 sets: h.broker.indexSets(task: m.task, queue: m.queue))
        }
        let reply = try await FetchPeeked(unacked: KeySpace.unacked, unackedIndex: KeySpace.unackedIndex,
                                          leases: h.broker.keys.leases, revoked: h.broker.keys.revoked, lists: ["celery"], now: 1,
                                          leaseToken: "w|1", ttl: 60, peekNext: 2, expected: expected, workerSet: nil,
                                          indexKeys: h.broker.keys.indexKeys, index: h.broker.index).run(on: h.redis)
        #expect(reply.array?.first?.array?.map(\.integer) == [1])
        #expect(try await h.run(["LRANGE", "celery", "0", "-1"]).array?.compactMap(\.bytes)
                == [messages[3].encoded(), messages[2].encoded(), messages[1].encoded()], "the list as it was, less the one taken")
        #expect(Broker.Tails(reply: reply.array![1], lists: 1).items.map(\.raw) == [messages[1].encoded(), messages[2].encoded()])
        #expect(try await h.run(["HLEN", RedisArgument(h.broker.keys.leases)]).integer == 1, "only the message taken is held")
    }
}
