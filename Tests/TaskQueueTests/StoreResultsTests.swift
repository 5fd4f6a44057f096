import Foundation
import RedisClient
import Testing
import TaskProtocol
import TestSupport
@testable import TaskQueue

/// The batch store script (`StoreResults`): every member gets the single store's guarantees on its own.
@Suite struct StoreResultsTests {
    /// `count` messages fetched and held with `token`: their ids and tags.
    func held(_ h: ScriptHarness, _ count: Int, token: String = "w|1") async throws -> [(id: String, tag: String)] {
        var out: [(String, String)] = []
        for _ in 0..<count {
            let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
            let fetched = try #require(try await h.fetchOne(message, token: token))
            out.append((message.id, try #require(fetched.tag)))
        }
        return out
    }

    /// Everything the store may write for one member: result, record, hold, lease.
    func member(_ h: ScriptHarness, id: String, tag: String) async throws -> [RESPValue] {
        [try await h.run(["GET", RedisArgument(KeySpace.resultKey(id))]),
         try await h.run(["DUMP", RedisArgument(h.broker.keys.taskRecord(id))]),
         try await h.run(["HGET", "unacked", RedisArgument(tag)]),
         try await h.run(["ZSCORE", "unacked_index", RedisArgument(tag)]),
         try await h.run(["HGET", RedisArgument(h.broker.keys.leases), RedisArgument(tag)])]
    }

    func success(_ task: (id: String, tag: String), value: JSONValue = 1, token: String? = "w|1") -> ResultBackend.Completion {
        ResultBackend.Completion(.success(taskID: task.id, result: value), record: .finished(at: Date(), runtime: 0.1),
                                 ackTag: task.tag, leaseToken: token)
    }

    @Test func aFencedOutMember_writesNothing_whileTheOthersStore() async throws {
        let h = try ScriptHarness()
        let tasks = try await held(h, 3)
        try await h.run(["HSET", RedisArgument(h.broker.keys.leases), RedisArgument(tasks[1].tag), "new|2"])
        let before = try await member(h, id: tasks[1].id, tag: tasks[1].tag)
        let outcomes = try await h.results.store(batch: tasks.map { success($0) })
        #expect(outcomes.map { try? $0.get() } == [.stored, .leaseLost, .stored])
        #expect(try await member(h, id: tasks[1].id, tag: tasks[1].tag) == before, "no document, record, ack or lease change")
        for task in [tasks[0], tasks[2]] {
            #expect(try await h.results.get(task.id)?.status == .success)
            #expect(try await h.broker.record(task.id)?.state == .success)
            #expect(try await h.run(["HEXISTS", "unacked", RedisArgument(task.tag)]) == .integer(0))
        }
    }

    @Test func retryingABatchThatLandedUnconfirmed_isStored_notALostLease_andChangesNothing() async throws {
        let h = try ScriptHarness()
        let tasks = try await held(h, 2)
        let batch = tasks.map { success($0, value: 42) }
        #expect(try await h.results.store(batch: batch).map { try? $0.get() } == [.stored, .stored])
        let once = try await h.snapshot()
        // The same completions again, lease token and all (the worker's retry after a NOREPLICAS).
        #expect(try await h.results.store(batch: batch).map { try? $0.get() } == [.stored, .stored])
        #expect(try await h.snapshot() == once)
        // Another attempt's document under a lost lease is still fenced out.
        #expect(try await h.results.store(batch: [success(tasks[0], value: 7)]).map { try? $0.get() } == [.leaseLost])
        #expect(try await h.snapshot() == once)
    }

    @Test func storingABatchTwice_isTheSameAsOnce() async throws {
        let h = try ScriptHarness()
        let tasks = try await held(h, 4)
        let batch = tasks.map { success($0, value: 42) }
        #expect(try await h.results.store(batch: batch).map { try? $0.get() } == Array(repeating: .stored, count: 4))
        let once = try await h.snapshot()
        let again = tasks.map { success($0, value: 42, token: nil) }
        #expect(try await h.results.store(batch: again).map { try? $0.get() } == Array(repeating: .successAlreadyStored, count: 4))
        #expect(try await h.snapshot() == once)
        #expect(try await h.run(["HLEN", "unacked"]) == .integer(0))
    }

    @Test func aTagTwiceInOneBatch_isStoredOnce_theSecondSeesTheHoldReleased() async throws {
        let h = try ScriptHarness()
        let tasks = try await held(h, 1)
        // The acks of a batch are written after its members: a member released earlier in the same call
        // must still count as released (an identical document answers stored, another one a lost lease).
        let once = success(tasks[0], value: 42)
        let outcomes = try await h.results.store(batch: [once, once, success(tasks[0], value: 7)])
        #expect(outcomes.map { try? $0.get() } == [.stored, .stored, .leaseLost])
        #expect(try await h.results.get(tasks[0].id)?.result == 42)
        #expect(try await member(h, id: tasks[0].id, tag: tasks[0].tag).suffix(3).allSatisfy(\.isNull), "hold, index entry and lease gone")
    }

    @Test func aStoredSuccess_isNeverOverwritten_byALaterMember() async throws {
        let h = try ScriptHarness()
        let tasks = try await held(h, 2)
        #expect(try await h.results.store(.success(taskID: tasks[0].id, result: 7)) == .stored)
        let failure = ResultBackend.Completion(.failure(taskID: tasks[0].id, exception: ExceptionInfo(type: "X", message: "y"),
                                                        traceback: nil), ackTag: tasks[0].tag, leaseToken: "w|1")
        let outcomes = try await h.results.store(batch: [failure, success(tasks[1])])
        #expect(outcomes.map { try? $0.get() } == [.successAlreadyStored, .stored])
        #expect(try await h.results.get(tasks[0].id)?.result == 7)
        #expect(try await h.run(["HLEN", "unacked"]) == .integer(0), "both acked")
    }

    @Test func aRevokedMember_isAckedButNotStored() async throws {
        let h = try ScriptHarness()
        let tasks = try await held(h, 2)
        try await h.run(["ZADD", RedisArgument(h.broker.keys.revoked), "1", RedisArgument(tasks[0].id)])
        let outcomes = try await h.results.store(batch: tasks.map { success($0) })
        #expect(outcomes.map { try? $0.get() } == [.revoked, .stored])
        #expect(try await h.results.get(tasks[0].id) == nil)
        #expect(try await h.run(["HLEN", "unacked"]) == .integer(0))
    }

    @Test func aMemberKeyOfTheWrongType_isThatMembersClearError_andNothingOfItIsWritten() async throws {
        let h = try ScriptHarness()
        let tasks = try await held(h, 3)
        let record = h.broker.keys.taskRecord(tasks[1].id)
        try await h.run(["DEL", RedisArgument(record)])
        try await h.run(["RPUSH", RedisArgument(record), "not a hash"])
        let before = try await member(h, id: tasks[1].id, tag: tasks[1].tag)
        let outcomes = try await h.results.store(batch: tasks.map { success($0) })
        #expect((try? outcomes[0].get()) == .stored && (try? outcomes[2].get()) == .stored)
        #expect(throws: RedisError.self) { try outcomes[1].get() }
        if case .failure(RedisError.server(_, let text)) = outcomes[1] {
            #expect(text.contains("WRONGTYPE") && text.contains(record) && text.contains("nothing written"))
        }
        #expect(try await member(h, id: tasks[1].id, tag: tasks[1].tag) == before, "still held, no document")
    }

    @Test func aResultKeyOfTheWrongType_isThatMembersClearError_andNothingOfItIsWritten() async throws {
        let h = try ScriptHarness()
        let tasks = try await held(h, 2)
        let resultKey = KeySpace.resultKey(tasks[0].id)
        try await h.run(["RPUSH", RedisArgument(resultKey), "not a string"])
        let before = try await h.run(["DUMP", RedisArgument(h.broker.keys.taskRecord(tasks[0].id))])
        let outcomes = try await h.results.store(batch: tasks.map { success($0) })
        #expect((try? outcomes[1].get()) == .stored)
        if case .failure(RedisError.server(_, let text)) = outcomes[0] {
            #expect(text.contains("WRONGTYPE") && text.contains(resultKey) && text.contains("nothing written"))
        } else {
            Issue.record("expected the member's WRONGTYPE error, got \(outcomes[0])")
        }
        #expect(try await h.run(["TYPE", RedisArgument(resultKey)]) == .simpleString("list"))
        #expect(try await h.run(["DUMP", RedisArgument(h.broker.keys.taskRecord(tasks[0].id))]) == before)
        #expect(try await h.run(["HEXISTS", "unacked", RedisArgument(tasks[0].tag)]) == .integer(1), "still held")
    }

    @Test func aDocumentThatIsNotASuccess_isReplaced_withTheResultsLifetime() async throws {
        let h = try ScriptHarness()
        let tasks = try await held(h, 1)
        let resultKey = KeySpace.resultKey(tasks[0].id)
        try await h.run(["SET", RedisArgument(resultKey), "{\"status\": \"PROGRESS\"}"])
        let outcomes = try await h.results.store(batch: [success(tasks[0], value: 5)])
        #expect(outcomes.map { try? $0.get() } == [.stored])
        #expect(try await h.results.get(tasks[0].id)?.result == 5)
        let ttl = try await h.run(["TTL", RedisArgument(resultKey)]).integer ?? -1
        #expect(ttl > 0 && ttl <= Int64(h.results.resultExpires))
        #expect(try await h.run(["HLEN", "unacked"]) == .integer(0))
    }

    @Test func aSharedKeyOfTheWrongType_failsTheWholeBatch_writingNothing() async throws {
        let h = try ScriptHarness()
        let tasks = try await held(h, 2)
        try await h.run(["DEL", RedisArgument(h.broker.keys.revoked)])
        try await h.run(["SET", RedisArgument(h.broker.keys.revoked), "not a zset"])
        let before = try await h.snapshot()
        await #expect {
            try await h.results.store(batch: tasks.map { success($0) })
        } throws: { error in
            guard case .server(_, let text)? = error as? RedisError else { return false }
            return text.contains("WRONGTYPE") && text.contains(h.broker.keys.revoked)
        }
        #expect(try await h.snapshot() == before)
    }

    @Test func documentsAndPublishes_areByteForByteTheSingleStores() async throws {
        let h = try ScriptHarness()
        let tasks = try await held(h, 2)
        let documents = tasks.map { ResultDocument.success(taskID: $0.id, result: ["x": 1, "y": "é"]) }
        let subscriber = try await h.broker.subscriber()
        defer { subscriber.close() }
        let heard = Locked<[String: [UInt8]]>([:])
        try await subscriber.subscribe(documents.map { KeySpace.resultKey($0.taskID) }) { channel, payload in
            heard.withLock { $0[channel] = payload }
        }
        let batch = zip(documents, tasks).map { ResultBackend.Completion($0, ackTag: $1.tag, leaseToken: "w|1") }
        #expect(try await h.results.store(batch: batch).map { try? $0.get() } == [.stored, .stored])
        #expect(await waitUntil { heard.withLock { $0.count } == 2 })
        for document in documents {
            let key = KeySpace.resultKey(document.taskID)
            #expect(heard.withLock { $0[key] } == document.encoded())
            #expect(try await h.run(["GET", RedisArgument(key)]).bytes == document.encoded())
            #expect(try await h.run(["TTL", RedisArgument(key)]).integer ?? 0 > 86000)
        }
    }
}
