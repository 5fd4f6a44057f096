import Foundation
import RedisClient
import Testing
import TaskProtocol
@testable import TaskQueue

/// The fetch of peeked messages: pop, hold and record in one step, and what it does when the list
/// changed under it, a record has the wrong type, or a message cannot be decoded by the worker.
@Suite struct FetchPeekedTests {
    func call(_ h: ScriptHarness, _ messages: [TaskMessage], raws: [[UInt8]]? = nil) -> FetchPeeked {
        let expected = messages.enumerated().map { index, m in
            FetchPeeked.Expected(list: 0, raw: raws?[index] ?? m.encoded(), tag: m.deliveryTag,
                                 queueJSON: JSONValue.string(m.queue).serializedBytes(), taskID: m.id,
                                 record: h.broker.keys.taskRecord(m.id), mayRun: true,
                                 recordPairs: TaskRecord.Update.received(name: m.task, queue: m.queue, retries: 0, worker: "w",
                                                                         at: Date(), startedNow: true).pairs,
                                 sets: h.broker.indexSets(task: m.task, queue: m.queue))
        }
        return FetchPeeked(unacked: KeySpace.unacked, unackedIndex: KeySpace.unackedIndex, leases: h.broker.keys.leases,
                           revoked: h.broker.keys.revoked, lists: ["celery"], now: 1, leaseToken: "w|1", ttl: 60,
                           peekNext: 4, expected: expected, workerSet: h.broker.workerIndexSet("w"),
                           indexKeys: h.broker.keys.indexKeys, index: h.broker.index)
    }

    @Test func fetch_holdsEachMessage_andWritesItsRecord_inOneStep() async throws {
        let h = try ScriptHarness()
        let a = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(a)
        let fetched = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", worker: "w")
        #expect(fetched.map(\.record) == [.started])
        #expect(fetched.first?.message?.id == a.id, "the decoded message travels with it")
        #expect(try await h.run(["HGET", RedisArgument(h.broker.keys.leases), RedisArgument(a.deliveryTag)]) == .bulkString(Array("w|1".utf8)))
        #expect(try await h.run(["ZSCORE", RedisArgument(KeySpace.unackedIndex), RedisArgument(a.deliveryTag)]).isNull == false)
        let entry = try #require(try await h.run(["HGET", RedisArgument(KeySpace.unacked), RedisArgument(a.deliveryTag)]).bytes)
        #expect(entry == Array("[".utf8) + a.encoded() + Array(", \"\", \"celery\"]".utf8), "kombu's unacked entry")
        #expect(try await h.broker.record(a.id)?.worker == "w")
        #expect(try await h.run(["TTL", RedisArgument(h.broker.keys.taskRecord(a.id))]).integer ?? 0 > 0)
        // The history index follows the record: the task's name, queue, worker and STARTED sets hold it.
        for key in h.broker.indexSets(task: "t", queue: "celery") + [h.broker.keys.workerIndex("w"), h.broker.keys.taskIndex,
                    h.broker.keys.stateIndex("STARTED")!] {
            #expect(try await h.run(["ZSCORE", RedisArgument(key), RedisArgument(a.id)]).isNull == false, "\(key)")
        }
    }

    @Test func aBatchOfDifferentUpdates_writesEachRecordAndIndexEntryFromItsOwn() async throws {
        // Published by a producer that is not Celeriac (no record, not indexed yet), as Python's `delay()`.
        let h = try ScriptHarness()
        var options = TaskMessage.Options()
        options.eta = Date().addingTimeInterval(3_600)
        let messages = [TaskMessage.make(task: "t1", args: [], kwargs: [:]), TaskMessage.make(task: "t2", args: [], kwargs: [:]),
                        TaskMessage.make(task: "t1", args: [], kwargs: [:]),
                        TaskMessage.make(task: "t2", args: [], kwargs: [:], options: options)]
        for m in messages { _ = try await h.run(["LPUSH", "celery", RedisArgument(m.encoded())]) }
        let fetched = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 4, startNow: 1, worker: "w")
        #expect(fetched.map(\.record) == [.started, .received, .received, .untouched])
        for (m, state) in zip(messages.prefix(3), [TaskState.started, .received, .received]) {
            let record = try #require(try await h.broker.record(m.id))
            #expect(record.name == m.task && record.state == state && record.worker == "w" && record.queue == "celery", "\(m.task)")
        }
        #expect(try await h.broker.record(messages[3].id) == nil, "a message with an eta is held only")
        func members(_ key: String) async throws -> Set<String> {
            Set(try await h.run(["ZRANGE", RedisArgument(key), "0", "-1"]).array?.compactMap(\.string) ?? [])
        }
        let ids = messages.map(\.id)
        #expect(try await members(h.broker.keys.taskNameIndex("t1")) == [ids[0], ids[2]])
        #expect(try await members(h.broker.keys.taskNameIndex("t2")) == [ids[1]])
        #expect(try await members(h.broker.keys.queueIndex("celery")) == Set(ids.prefix(3)))
        #expect(try await members(h.broker.keys.workerIndex("w")) == Set(ids.prefix(3)))
        #expect(try await members(h.broker.keys.stateIndex("STARTED")!) == [ids[0]])
        #expect(try await members(h.broker.keys.stateIndex("RECEIVED")!) == [ids[1], ids[2]])
        #expect(try await h.run(["HLEN", RedisArgument(h.broker.keys.leases)]).integer == 4, "every message is held")
    }

    @Test func aTailThatChangedSinceThePeek_isPushedBack_andNothingIsWritten() async throws {
        let h = try ScriptHarness()
        let a = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let other = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(a)
        try await h.broker.enqueue(other)
        let before = try await h.snapshot()
        // Expects `other` first, but `a` is at the tail (another consumer's peek, say).
        let reply = try await call(h, [other]).run(on: h.redis)
        #expect(reply.array?.first?.array?.isEmpty == true)
        #expect(try await h.snapshot() == before, "the list is as it was, nothing held")
    }

    @Test func aRaceLostHalfway_keepsWhatItTook_andLeavesTheRest() async throws {
        let h = try ScriptHarness()
        let a = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let b = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let c = TaskMessage.make(task: "t", args: [], kwargs: [:])
        for m in [a, b] { try await h.broker.enqueue(m) }
        let reply = try await call(h, [a, c]).run(on: h.redis)
        #expect(reply.array?.first?.array?.count == 1)
        #expect(Broker.Tails(reply: reply.array![1], lists: 1).items.map(\.raw) == [b.encoded()], "what the next fetch expects")
        #expect(try await h.run(["LRANGE", "celery", "0", "-1"]).array?.compactMap(\.bytes) == [b.encoded()])
        #expect(try await h.broker.record(c.id) == nil)
    }

    @Test func aRecordOfTheWrongType_isLeftAlone_andItsMessageStillHeld() async throws {
        let h = try ScriptHarness()
        let a = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(a)
        try await h.run(["SET", RedisArgument(h.broker.keys.taskRecord(a.id)), "x"])
        let reply = try await call(h, [a]).run(on: h.redis)
        #expect(reply.array?.first?.array?.map(\.integer) == [0], "held only: the worker writes (or reports) the record itself")
        #expect(try await h.run(["GET", RedisArgument(h.broker.keys.taskRecord(a.id))]) == .bulkString(Array("x".utf8)))
        #expect(try await h.run(["HGET", RedisArgument(h.broker.keys.leases), RedisArgument(a.deliveryTag)]) == .bulkString(Array("w|1".utf8)))
    }

    @Test func aRevokedTask_isHeld_butItsRecordNotMarked() async throws {
        let h = try ScriptHarness()
        let a = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.broker.enqueue(a)
        _ = try await h.broker.revoke(a.id)
        let fetched = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", worker: "w")
        #expect(fetched.map(\.record) == [.untouched])
        #expect(try await h.broker.record(a.id)?.state == .revoked)
    }

    @Test func aMessageTheWorkerCannotDecode_isStillHeldByKombusRules() async throws {
        let h = try ScriptHarness()
        let raw = #"{"headers": {"id": "x1"}, "properties": {"delivery_tag": "t1", "delivery_info": {"routing_key": "celery"}}}"#
        try await h.run(["LPUSH", "celery", RedisArgument(raw)])
        let fetched = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", worker: "w")
        #expect(fetched.map(\.tag) == ["t1"])
        #expect(fetched.first?.message == nil)
        #expect(try await h.run(["HGET", RedisArgument(h.broker.keys.leases), "t1"]) == .bulkString(Array("w|1".utf8)))
    }

    @Test func aBatch_takesFirstListsFirst_acrossPriorityBands() async throws {
        let h = try ScriptHarness()
        let low = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let high = TaskMessage.make(task: "t", args: [], kwargs: [:])
        try await h.run(["LPUSH", "band-b", RedisArgument(low.encoded())])
        try await h.run(["LPUSH", "band-a", RedisArgument(high.encoded())])
        let fetched = try await h.broker.fetch(lists: ["band-a", "band-b"], leaseToken: "w|1", count: 4, startNow: 1, worker: "w")
        #expect(fetched.map(\.taskID) == [high.id, low.id])
        #expect(fetched.map(\.list) == ["band-a", "band-b"])
        #expect(fetched.map(\.record) == [.started, .received])
    }

    @Test func aWatchersTail_isTakenWithoutReadingTheLists_andAStaleOneFallsBack() async throws {
        let h = try ScriptHarness()
        let a = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let b = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let c = TaskMessage.make(task: "t", args: [], kwargs: [:])
        for m in [a, b, c] { try await h.broker.enqueue(m) }
        let first = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 8, startNow: 8, worker: "w",
                                             tails: Broker.Tails(firstList: a.encoded()))
        #expect(first.fetched.map(\.taskID) == [a.id], "the hinted tail alone")
        #expect(first.fetched.map(\.record) == [.started])
        #expect(first.tails?.items.map(\.raw) == [b.encoded(), c.encoded()], "and what the next fetch starts from")
        // A stale hint (`a` is gone): the fetch still takes what is really at the tail.
        let second = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 1, startNow: 1, worker: "w",
                                              tails: Broker.Tails(firstList: a.encoded()))
        #expect(second.fetched.map(\.taskID) == [b.id])
        #expect(try await h.broker.record(b.id)?.state == .started)
        let third = try await h.broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 8, startNow: 8, worker: "w",
                                             tails: second.tails)
        #expect(third.fetched.map(\.taskID) == [c.id])
        #expect(third.tails == nil, "the lists are empty")
    }

    @Test func aMessageNewInAHigherList_goesBeforeThePeekedLowerOne() async throws {
        let h = try ScriptHarness()
        let low = TaskMessage.make(task: "t", args: [], kwargs: [:])
        let high = TaskMessage.make(task: "t", args: [], kwargs: [:])
        // The last fetch saw only `low`; `high` came after it.
        try await h.run(["LPUSH", "band-b", RedisArgument(low.encoded())])
        try await h.run(["LPUSH", "band-a", RedisArgument(high.encoded())])
        let stale = Broker.Tails(items: [(1, low.encoded())])
        let next = try await h.broker.fetch(lists: ["band-a", "band-b"], leaseToken: "w|1", count: 1, startNow: 1, worker: "w",
                                            tails: stale)
        #expect(next.fetched.map(\.taskID) == [high.id])
    }
}
