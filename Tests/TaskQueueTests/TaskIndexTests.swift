import Foundation
import RedisClient
import Testing
import TaskProtocol
@testable import TaskQueue

/// The history index (`TaskIndex`) as the record-writing scripts keep it, against a real redis-server.
@Suite struct TaskIndexTests {
    func members(_ h: ScriptHarness, _ key: String) async throws -> [String] {
        (try await h.run(["ZRANGE", RedisArgument(key), "0", "-1"]).array ?? []).compactMap(\.string)
    }

    /// The states whose query lists `id`: a state with a set of its own when that set holds it, PENDING
    /// and SUCCESS (no set, `TaskIndex.unsetStates`) when a history page filtered on them shows it.
    func states(_ h: ScriptHarness, _ id: String) async throws -> [String] {
        var out: [String] = []
        for bucket in TaskIndex.buckets {
            if let key = h.broker.keys.stateIndex(bucket) {
                if try await members(h, key).contains(id) { out.append(bucket) }
            } else {
                var query = HistoryQuery(limit: 500)
                query.state = bucket
                if try await h.broker.history(query).items.contains(where: { $0.id == id }) { out.append(bucket) }
            }
        }
        return out
    }

    /// The members of every state set (PENDING and SUCCESS have none).
    func stateSetMembers(_ h: ScriptHarness) async throws -> [String] {
        var out: [String] = []
        for bucket in TaskIndex.stateSets { out += try await members(h, h.broker.keys.stateIndex(bucket)!) }
        return out
    }

    @Test func aSubmittedTask_isIndexedAsPending_underItsNameAndQueue() async throws {
        let h = try ScriptHarness()
        var options = TaskMessage.Options()
        options.queue = "mail"
        let message = TaskMessage.make(task: "app.send", args: [], kwargs: [:], options: options)
        try await h.broker.enqueue(message)
        let keys = h.broker.keys
        #expect(try await members(h, keys.taskIndex) == [message.id])
        #expect(try await members(h, keys.taskNameIndex("app.send")) == [message.id])
        #expect(try await members(h, keys.queueIndex("mail")) == [message.id])
        #expect(try await states(h, message.id) == ["PENDING"])
        #expect(try await stateSetMembers(h).isEmpty, "PENDING has no set: a submit writes no state set")
        #expect((try await h.run(["TTL", RedisArgument(keys.taskNameIndex("app.send"))]).integer ?? 0) > 0,
                "a task name's set expires when no record of it is written for as long as records live")
    }

    @Test func aTaskMovesBetweenStateSets_asItsRecordChanges() async throws {
        let h = try ScriptHarness()
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(message)
        let held = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", worker: "w1@host").first)
        #expect(try await states(h, message.id) == ["STARTED"])
        #expect(try await members(h, h.broker.keys.workerIndex("w1@host")) == [message.id])
        #expect(try await h.results.store(.success(taskID: message.id, result: 1), record: .finished(at: Date(), runtime: 1),
                                          ackTag: held.tag, leaseToken: "w|1") == .stored)
        #expect(try await states(h, message.id) == ["SUCCESS"])
        #expect(try await stateSetMembers(h).isEmpty, "SUCCESS has no set: the success only left STARTED")
        let other = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(other)
        #expect(try await h.broker.revoke(other.id) == .revoked)
        #expect(try await states(h, other.id) == ["REVOKED"])
        let minute = TaskIndex.minute(Date())
        var counted: Int64 = 0
        for m in [minute - 1, minute] {  // the store may have fallen in the minute before
            counted += try await h.run(["HGET", RedisArgument(h.broker.keys.throughput(minute: m)), "succeeded"]).integer ?? 0
        }
        #expect(counted == 1)
    }

    @Test func aBatchOfCompletions_movesEachTask_andCountsFailures() async throws {
        let h = try ScriptHarness()
        let a = TaskMessage.make(task: "t", args: [], kwargs: [:]), b = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(a)
        try await h.broker.enqueue(b)
        _ = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 2, worker: "w")
        let failure = ResultDocument.failure(taskID: b.id, exception: ExceptionInfo(type: "ValueError", message: "no"), traceback: nil)
        _ = try await h.results.store(batch: [.init(.success(taskID: a.id, result: 1)), .init(failure)])
        #expect(try await states(h, a.id) == ["SUCCESS"])
        #expect(try await states(h, b.id) == ["FAILURE"])
    }

    @Test func aTaskFromAnotherProducer_entersTheIndex_whenAWorkerFetchesIt() async throws {
        let h = try ScriptHarness()
        let message = TaskMessage.make(task: "py.task", args: [], kwargs: [:])
        try await h.run(["LPUSH", "celery", RedisArgument(message.encoded())])  // Python's delay(): no record, no index
        #expect(try await members(h, h.broker.keys.taskIndex).isEmpty)
        _ = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", startNow: 0, worker: "w2")
        #expect(try await members(h, h.broker.keys.taskIndex) == [message.id])
        #expect(try await members(h, h.broker.keys.taskNameIndex("py.task")) == [message.id])
        #expect(try await members(h, h.broker.keys.workerIndex("w2")) == [message.id])
        #expect(try await states(h, message.id) == ["RECEIVED"])
    }

    @Test func theIndex_isTrimmedByAge_andCappedByCount() async throws {
        let h = try ScriptHarness()
        var broker = h.broker
        broker.resultExpires = 60
        broker.indexCapacity = 3
        let old = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await broker.enqueue(old, now: Date().addingTimeInterval(-120))
        let fresh = (0..<4).map { _ in TaskMessage.make(task: "t", args: [], kwargs: [:]) }
        for (k, message) in fresh.enumerated() { try await broker.enqueue(message, now: Date().addingTimeInterval(Double(k))) }
        let keys = broker.keys
        for key in [keys.taskIndex, keys.taskNameIndex("t"), keys.queueIndex("celery")] {
            #expect(try await members(h, key) == fresh.dropFirst().map(\.id), "\(key): the expired one and the oldest beyond the cap are gone")
        }
    }

    @Test func theAgeTrim_runsWhenABatchCrossesAMultipleOf128_notOnlyWhenItLandsOnOne() async throws {
        let h = try ScriptHarness()
        var broker = h.broker
        broker.resultExpires = 60
        let stale = Date().addingTimeInterval(-120)
        for key in [broker.keys.taskIndex, broker.keys.taskNameIndex("py.task")] {
            try await h.run(["ZADD", RedisArgument(key), RedisArgument(String(Int64(TaskIndex.score(stale)))), "stale"])
        }
        // 1 + 7k members never equals 128: the set goes from 127 to 134 in one fetch of seven.
        let messages = (0..<133).map { _ in TaskMessage.make(task: "py.task", args: [], kwargs: [:]) }
        for message in messages { try await h.run(["LPUSH", "celery", RedisArgument(message.encoded())]) }
        for _ in 0..<19 { _ = try await broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 7, startNow: 0, worker: "w") }
        let members = try await members(h, broker.keys.taskIndex)
        #expect(members.count == 133 && !members.contains("stale"), "the stale member is trimmed on the crossing")
        #expect(try await self.members(h, broker.keys.taskNameIndex("py.task")).contains("stale") == false,
                "a set touched with `all` is trimmed with it")
    }

    @Test func historyPages_walkNewestFirst_throughTies_andStayStableAsTasksArrive() async throws {
        let h = try ScriptHarness()
        let now = Date()
        let ids = (0..<7).map { "id-\($0)" }
        for id in ids { try await h.broker.enqueue(TaskMessage.make(task: "t", id: id, args: [], kwargs: [:]), now: now) }
        var query = HistoryQuery(limit: 3)
        let first = try await h.broker.history(query)
        for id in ["new-1", "new-2"] { try await h.broker.enqueue(TaskMessage.make(task: "t", id: id, args: [], kwargs: [:])) }
        var seen = first.items.map(\.id)
        query.cursor = first.next
        while let cursor = query.cursor {
            query.cursor = cursor
            let page = try await h.broker.history(query)
            seen += page.items.map(\.id)
            query.cursor = page.next
        }
        #expect(seen == ids.reversed(), "one score, ordered by id as Redis orders ties, none twice, none missed")
    }

    @Test func aPendingOrSuccessQuery_walksAll_andPagesThroughEveryMatch_withinItsScanBudget() async throws {
        let h = try ScriptHarness()
        let now = Date()
        let ids = (0..<6).map { "id-\($0)" }
        for (k, id) in ids.enumerated() {
            try await h.broker.enqueue(TaskMessage.make(task: "t", id: id, args: [], kwargs: [:]), now: now.addingTimeInterval(Double(k)))
        }
        // The three oldest succeed (the list pops oldest first); the three newest stay PENDING.
        for held in try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 3, worker: "w") {
            let id = try #require(held.message?.id)
            #expect(try await h.results.store(.success(taskID: id, result: 1), ackTag: held.tag, leaseToken: "w|1") == .stored)
        }
        for (state, want) in [("SUCCESS", Array(ids.prefix(3))), ("PENDING", Array(ids.suffix(3)))] {
            var query = HistoryQuery(limit: 2, scanBudget: 2)
            query.state = state
            var seen: [String] = []
            var pages = 0
            repeat {
                let page = try await h.broker.history(query)
                seen += page.items.map(\.id)
                query.cursor = page.next
                pages += 1
            } while query.cursor != nil && pages < 20
            #expect(seen == want.reversed(), "\(state): newest first, each once, the others skipped")
        }
    }

    @Test func aBrokenIndexKey_neverFailsASubmitOrAResult() async throws {
        let h = try ScriptHarness()
        try await h.run(["SET", RedisArgument(h.broker.keys.taskIndex), "not a sorted set"])
        try await h.run(["SET", RedisArgument(h.broker.keys.stateIndex("STARTED")!), "nor this"])
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(message)
        #expect(try await h.run(["LLEN", "celery"]) == .integer(1))
        let held = try #require(try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", worker: "w").first)
        #expect(try await h.results.store(.success(taskID: message.id, result: 1), ackTag: held.tag, leaseToken: "w|1") == .stored)
        #expect(try await h.broker.record(message.id)?.state == .success)
    }
}
