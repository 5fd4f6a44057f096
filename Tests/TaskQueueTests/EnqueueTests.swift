import Foundation
import RedisClient
import Sockets
import Testing
import TaskProtocol
@testable import TaskQueue
import TestSupport

/// The `enqueue` script (a batch of messages in one call) and `EnqueueBatcher`, which coalesces
/// concurrent submissions into it, against a real redis-server.
@Suite struct EnqueueTests {
    static func message(_ n: Int, queue: String = "celery", task: String = "t") -> TaskMessage {
        var options = TaskMessage.Options()
        options.queue = queue
        return TaskMessage.make(task: task, args: [.int(Int64(n))], kwargs: [:], options: options)
    }

    /// Runs the script once for `messages` and returns each one's outcome (nil: published).
    static func enqueue(_ h: ScriptHarness, _ messages: [TaskMessage], now: Date = Date()) async throws -> [String?] {
        let call = Enqueue(entries: messages.map { h.broker.enqueueEntry($0, now: now) }, indexKeys: h.broker.keys.indexKeys,
                           recordTTL: h.broker.resultExpires, index: h.broker.index)
        return try await call.publish(on: h.redis)
    }

    func queued(_ h: ScriptHarness, _ list: String) async throws -> [String] {
        try await h.run(["LRANGE", RedisArgument(list), "0", "-1"]).array?.compactMap { $0.bytes.flatMap { try? TaskMessage.decode($0).id } } ?? []
    }

    @Test func aBatch_pushesInArrivalOrder_recordsEachAsPending_andIndexesEachAtItsOwnTime() async throws {
        let h = try ScriptHarness()
        let messages = (0..<5).map { Self.message($0, queue: $0 % 2 == 0 ? "celery" : "mail") }
        let start = Date(timeIntervalSince1970: 1_900_000_000)
        let call = Enqueue(entries: messages.enumerated().map { h.broker.enqueueEntry($1, now: start.addingTimeInterval(Double($0))) },
                           indexKeys: h.broker.keys.indexKeys, recordTTL: 600, index: h.broker.index)
        let written = Date()
        #expect(try await call.publish(on: h.redis) == [nil, nil, nil, nil, nil])
        // LPUSHed in order: the first of each list is consumed first (from the right).
        #expect(try await queued(h, "celery") == [messages[4], messages[2], messages[0]].map(\.id))
        #expect(try await queued(h, "mail") == [messages[3], messages[1]].map(\.id))
        for (k, message) in messages.enumerated() {
            let record = try #require(try await h.broker.record(message.id))
            #expect(record.state == .pending && record.name == "t" && record.fields["queue"] == message.queue)
            // The record's 600 s, less the time since the write (a start-up stall of the suite can take seconds).
            let ttl = try await h.run(["TTL", RedisArgument(h.broker.keys.taskRecord(message.id))]).integer ?? 0
            #expect(ttl <= 600 && ttl >= 600 - Int(Date().timeIntervalSince(written).rounded(.up)) - 1)
            let score = try await h.run(["ZSCORE", RedisArgument(h.broker.keys.taskIndex), RedisArgument(message.id)]).string
            #expect(score.flatMap(Double.init) == TaskIndex.score(start.addingTimeInterval(Double(k))))
            #expect(try await h.run(["ZSCORE", RedisArgument(h.broker.keys.queueIndex(message.queue)), RedisArgument(message.id)]).string == score)
        }
        #expect(try await h.run(["ZCARD", RedisArgument(h.broker.keys.taskNameIndex("t"))]) == .integer(5))
    }

    @Test func aBatchInRuns_writesEachRecordWithExactlyItsOwnFields_andEachTaskIntoItsOwnSets() async throws {
        // The call sends what consecutive messages share once (`Enqueue.write`): runs of alike records (all
        // values shared), a record with a field more (a group member), another task on the same queue.
        let h = try ScriptHarness()
        var grouped = TaskMessage.Options()
        grouped.groupID = "g1"
        let messages = [Self.message(1), Self.message(1), TaskMessage.make(task: "t", args: [.int(1)], kwargs: [:], options: grouped),
                        Self.message(2, task: "u"), Self.message(3), Self.message(3)]
        let start = Date(timeIntervalSince1970: 1_900_000_000)
        let entries = messages.enumerated().map { h.broker.enqueueEntry($1, now: start.addingTimeInterval(Double($0 / 2) / 1000)) }
        let call = Enqueue(entries: entries, indexKeys: h.broker.keys.indexKeys, recordTTL: 600, index: h.broker.index)
        #expect(try await call.publish(on: h.redis) == Array(repeating: nil, count: 6))
        for (message, entry) in zip(messages, entries) {
            let stored = try await h.run(["HGETALL", RedisArgument(h.broker.keys.taskRecord(message.id))]).array?.compactMap(\.string) ?? []
            let fields = Dictionary(uniqueKeysWithValues: stride(from: 0, to: stored.count, by: 2).map { (stored[$0], stored[$0 + 1]) })
            #expect(fields == Dictionary(uniqueKeysWithValues: entry.recordPairs.map { ($0.0.rawValue, $0.1) }), "\(message.id)")
            let score = try await h.run(["ZSCORE", RedisArgument(h.broker.keys.taskIndex), RedisArgument(message.id)]).string
            #expect(score.flatMap(Double.init) == TaskIndex.score(entry.now))
            #expect(try await h.run(["ZSCORE", RedisArgument(h.broker.keys.taskNameIndex(message.task)), RedisArgument(message.id)]).string == score)
            #expect(try await h.run(["ZSCORE", RedisArgument(h.broker.keys.queueIndex("celery")), RedisArgument(message.id)]).string == score)
        }
        #expect(try await h.run(["ZCARD", RedisArgument(h.broker.keys.taskNameIndex("t"))]) == .integer(5))
        #expect(try await h.run(["ZCARD", RedisArgument(h.broker.keys.taskNameIndex("u"))]) == .integer(1))
        #expect(try await h.broker.record(messages[2].id)?.fields["group"] == "g1")
        #expect(try await queued(h, "celery") == messages.reversed().map(\.id))
    }

    @Test func aMessageOnAListOfTheWrongType_failsAlone_andNothingOfItIsWritten() async throws {
        let h = try ScriptHarness()
        try await h.run(["SET", "broken", "x"])
        let messages = [Self.message(0), Self.message(1, queue: "broken"), Self.message(2)]
        let outcomes = try await Self.enqueue(h, messages)
        #expect(outcomes[0] == nil && outcomes[2] == nil)
        let refusal = try #require(outcomes[1])
        #expect(refusal.hasPrefix("WRONGTYPE broken holds a string, not a list") && refusal.contains("nothing written"))
        #expect(try await h.run(["GET", "broken"]) == .bulkString(Array("x".utf8)))
        #expect(try await h.broker.record(messages[1].id) == nil)
        #expect(try await h.run(["ZSCORE", RedisArgument(h.broker.keys.taskIndex), RedisArgument(messages[1].id)]) == .null)
        #expect(try await queued(h, "celery") == [messages[2].id, messages[0].id])
    }

    @Test func aRecordKeyOfTheWrongType_amongMany_failsOnlyItsMessage() async throws {
        // Records are checked one EXISTS per 500 keys, and TYPE only where one exists: the 600th of 700 has
        // a list where its record goes, the 10th an old record (a hash, which is fine: it is written over).
        let h = try ScriptHarness()
        let messages = (0..<700).map { Self.message($0) }
        try await h.run(["HSET", RedisArgument(h.broker.keys.taskRecord(messages[9].id)), "state", "STARTED"])
        try await h.run(["RPUSH", RedisArgument(h.broker.keys.taskRecord(messages[599].id)), "not a hash"])
        let outcomes = try await Self.enqueue(h, messages)
        #expect(outcomes.enumerated().allSatisfy { $0.offset == 599 ? $0.element != nil : $0.element == nil })
        #expect(outcomes[599]?.contains("WRONGTYPE \(h.broker.keys.taskRecord(messages[599].id)) holds a list") == true)
        #expect(try await h.run(["LLEN", "celery"]) == .integer(699))
        // The refused message's envelope, pushed before the script in the same transaction, was taken back:
        // the others stay in their order.
        #expect(try await queued(h, "celery") == messages.enumerated().filter { $0.offset != 599 }.map(\.element.id).reversed())
        #expect(try await h.broker.record(messages[9].id)?.state == .pending)
        #expect(try await h.run(["LRANGE", RedisArgument(h.broker.keys.taskRecord(messages[599].id)), "0", "-1"])
                == .array([.bulkString(Array("not a hash".utf8))]))
        #expect(try await h.run(["ZCARD", RedisArgument(h.broker.keys.taskIndex)]) == .integer(699))
    }

    @Test func aScriptRedisNoLongerKnows_afterTheTransactionsPushes_isCompleted_withNothingOfARefusedMessageLeft() async throws {
        // SCRIPT FLUSH after the client learned the SHA1: the EVALSHA inside the MULTI answers NOSCRIPT after
        // the LPUSH ran; a second call (EVAL) writes the records and the index, and the refused envelope goes.
        let h = try ScriptHarness()
        _ = try await Self.enqueue(h, [Self.message(-1)])
        try await h.run(["SCRIPT", "FLUSH"])
        let messages = (0..<3).map { Self.message($0) }
        try await h.run(["RPUSH", RedisArgument(h.broker.keys.taskRecord(messages[1].id)), "not a hash"])
        let outcomes = try await Self.enqueue(h, messages)
        #expect(outcomes[0] == nil && outcomes[2] == nil && outcomes[1]?.contains("WRONGTYPE") == true, "\(outcomes)")
        #expect(try await queued(h, "celery").prefix(2) == [messages[2].id, messages[0].id])
        #expect(try await h.run(["LLEN", "celery"]) == .integer(3))
        for message in [messages[0], messages[2]] {
            #expect(try await h.broker.record(message.id)?.state == .pending)
            #expect(try await h.run(["TTL", RedisArgument(h.broker.keys.taskRecord(message.id))]).integer ?? 0 > 0)
            #expect(try await h.run(["ZSCORE", RedisArgument(h.broker.keys.taskIndex), RedisArgument(message.id)]) != .null)
        }
        #expect(try await h.run(["ZSCORE", RedisArgument(h.broker.keys.taskIndex), RedisArgument(messages[1].id)]) == .null)
    }

    @Test func anIDSeenBefore_orTwiceInOneBatch_keepsItsFirstIndexScore_asOneCallPerMessageWould() async throws {
        let h = try ScriptHarness()
        let first = Date(timeIntervalSince1970: 1_900_000_000)
        let message = TaskMessage.make(task: "t", id: "same", args: [], kwargs: [:])
        _ = try await Self.enqueue(h, [message], now: first)
        let later = first.addingTimeInterval(10)
        let other = TaskMessage.make(task: "t", id: "twice", args: [], kwargs: [:])
        let call = Enqueue(entries: [h.broker.enqueueEntry(message, now: later), h.broker.enqueueEntry(other, now: later),
                                     h.broker.enqueueEntry(other, now: later.addingTimeInterval(1))],
                           indexKeys: h.broker.keys.indexKeys, recordTTL: 600, index: h.broker.index)
        #expect(try await call.publish(on: h.redis) == [nil, nil, nil])
        for (id, at) in [("same", first), ("twice", later)] {
            for key in [h.broker.keys.taskIndex, h.broker.keys.taskNameIndex("t"), h.broker.keys.queueIndex("celery")] {
                let score = try await h.run(["ZSCORE", RedisArgument(key), RedisArgument(id)]).string.flatMap(Double.init)
                #expect(score == TaskIndex.score(at), "\(id) in \(key)")
            }
        }
        #expect(try await h.run(["LLEN", "celery"]) == .integer(4), "every message is published, whatever its id")
    }

    @Test func aBrokenIndex_neverFailsABatch_andLeavesItsTasksOutOfTheHistory() async throws {
        let h = try ScriptHarness()
        try await h.run(["SET", RedisArgument(h.broker.keys.taskIndex), "not a sorted set"])
        let messages = (0..<3).map { Self.message($0) }
        #expect(try await Self.enqueue(h, messages) == [nil, nil, nil])
        #expect(try await h.run(["LLEN", "celery"]) == .integer(3))
        #expect(try await h.run(["EXISTS", RedisArgument(h.broker.keys.taskNameIndex("t"))]) == .integer(0),
                "as one call per message: a task that cannot enter `all` joins no set either")
    }

    /// While the first call waits on a paused Redis, every other submission queues; they all leave in
    /// the next call. Returns the messages, in submission order.
    static func submitWhilePaused(_ h: ScriptHarness, count: Int, before unpausing: (RedisClient) async throws -> Void = { _ in })
        async throws -> (messages: [TaskMessage], outcomes: [Result<Void, any Error>]) {
        let control = RedisClient(configuration: try RedisConfiguration(url: h.server.url))
        defer { control.close() }
        try await h.broker.ping()
        // Loads the script first, so the paused calls are the EVALSHAs themselves.
        _ = try await enqueue(h, [message(-1)])
        try await control.send(["CONFIG", "RESETSTAT"])
        try await control.send(["CLIENT", "PAUSE", "20000", "WRITE"])
        let messages = (0..<count).map { message($0, task: "t\($0)") }
        let broker = h.broker
        async let outcomes = withTaskGroup(of: (Int, Result<Void, any Error>).self) { group in
            for (k, message) in messages.enumerated() {
                group.addTask { do { try await broker.enqueue(message); return (k, .success(())) } catch { return (k, .failure(error)) } }
            }
            var out = [(Int, Result<Void, any Error>)]()
            for await outcome in group { out.append(outcome) }
            return out.sorted { $0.0 < $1.0 }.map(\.1)
        }
        #expect(await waitUntil(timeout: 30) { broker.batcher.queuedCount == count - 1 }, "all but the leader queue")
        try await unpausing(control)
        try await control.send(["CLIENT", "UNPAUSE"])
        return (messages, await outcomes)
    }

    @Test func concurrentSubmissions_shareOneCall_andEachMessageIsPublishedWithItsOwnRecord() async throws {
        let h = try ScriptHarness()
        // As many as one call takes after the leader's: `maxBatch` queue behind it.
        let count = EnqueueBatcher.maxBatch + 1
        let (messages, outcomes) = try await Self.submitWhilePaused(h, count: count)
        #expect(outcomes.allSatisfy { if case .success = $0 { true } else { false } })
        let stats = try await h.run(["INFO", "commandstats"]).string ?? ""
        #expect(stats.contains("cmdstat_evalsha:calls=2,"), "the leader's call, then one for the \(count - 1) that queued: \(stats)")
        for message in messages {
            let record = try #require(try await h.broker.record(message.id))
            #expect(record.name == message.task && record.fields["args"] == PythonRepr.tuple(message.args))
        }
        let queued = try await queued(h, "celery")
        #expect(Set(queued.prefix(count)) == Set(messages.map(\.id)) && queued.count == count + 1)
    }

    @Test func aFailedCall_failsEachMessageInIt_withTheSameError() async throws {
        let h = try ScriptHarness()
        let (_, outcomes) = try await Self.submitWhilePaused(h, count: 5) { control in
            try await control.send(["CONFIG", "SET", "maxmemory", "1"])
        }
        let errors = outcomes.compactMap { if case .failure(let error) = $0 { "\(error)" } else { nil } }
        #expect(errors.count == 5 && errors.allSatisfy { $0.contains("OOM") }, "\(errors)")
        #expect(try await h.run(["LLEN", "celery"]) == .integer(1), "only the message before the pause")
    }

    @Test func submissionsInOneEventLoopTurn_shareOneCall_andEachCallerGetsItsOwnOutcome() async throws {
        let h = try ScriptHarness()
        try await h.run(["SET", "broken", "x"])
        _ = try await Self.enqueue(h, [Self.message(-1)])
        try await h.run(["CONFIG", "RESETSTAT"])
        // As HTTP handlers do: each submission starts on the loop thread, all of them in one turn.
        let messages = (0..<30).map { Self.message($0, queue: $0 == 7 ? "broken" : "celery", task: "t\($0)") }
        let loop = try EventLoopGroup.shared.next()
        let broker = h.broker
        let tasks = await withCheckedContinuation { (started: CheckedContinuation<[Task<String?, Never>], Never>) in
            loop.execute {
                started.resume(returning: messages.map { message in
                    Task(executorPreference: loop) {
                        do { try await broker.enqueue(message); return nil } catch { return "\(error)" }
                    }
                })
            }
        }
        var outcomes: [String?] = []
        for task in tasks { outcomes.append(await task.value) }
        #expect(outcomes.enumerated().allSatisfy { $0.offset == 7 ? $0.element?.contains("WRONGTYPE broken") == true : $0.element == nil },
                "\(outcomes)")
        let stats = try await h.run(["INFO", "commandstats"]).string ?? ""
        #expect(stats.contains("cmdstat_evalsha:calls=1,"), "one call for the turn: \(stats)")
        for message in messages where message.queue == "celery" {
            #expect(try await h.broker.record(message.id)?.name == message.task)
        }
        #expect(try await h.run(["LLEN", "celery"]) == .integer(30), "the 29 and the one before")
    }
}
