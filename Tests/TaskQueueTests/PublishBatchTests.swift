import Foundation
import RedisClient
import Testing
import TaskProtocol
@testable import TaskQueue

/// Groups, chords and chains published in one step (the `publish_batch` script).
@Suite struct PublishBatchTests {
    static func members(_ count: Int, group: String, queues: [String] = ["celery"]) -> [TaskMessage] {
        (0..<count).map { index in
            var options = TaskMessage.Options()
            options.groupID = group
            options.groupIndex = index
            options.queue = queues[index % queues.count]
            return TaskMessage.make(task: "t", args: [.int(Int64(index))], kwargs: [:], options: options)
        }
    }

    @Test func aGroup_pushesEveryMemberInOrder_savesCelerysGroupResult_andRecordsEachAsPending() async throws {
        let h = try ScriptHarness()
        let members = Self.members(3, group: "g1")
        #expect(try await h.broker.publish(Broker.Group(id: "g1", members: members)) == "g1")
        // LPUSHed in order, so the first member is consumed first (from the right).
        let queued = try await h.run(["LRANGE", "celery", "0", "-1"]).array?.compactMap { $0.bytes.flatMap { try? TaskMessage.decode($0).id } }
        #expect(queued == members.reversed().map(\.id))
        let saved = try #require(try await h.run(["GET", "celery-taskset-meta-g1"]).bytes)
        let expected = #"{"result": [["g1", null], [[["\#(members[0].id)", null], null], [["\#(members[1].id)", null], null], [["\#(members[2].id)", null], null]]]}"#
        #expect(try JSONValue.parse(saved) == JSONValue.parse(expected))
        #expect(try await h.run(["TTL", "celery-taskset-meta-g1"]).integer ?? 0 > 86000)
        for member in members { #expect(try await h.broker.record(member.id)?.state == .pending) }
        let stored = try #require(try await h.broker.group("g1"))
        #expect(stored.saved.memberIDs == members.map(\.id))
        #expect(stored.callbackID == nil)
        #expect(try await h.run(["EXISTS", "celery-taskset-meta-g1.s"]) == .integer(0))
    }

    @Test func aChord_setsItsSizeFirst_clearsAnOldClaim_andRecordsTheCallback() async throws {
        let h = try ScriptHarness()
        try await h.run(["SET", "celery-taskset-meta-c1.c", "done"])
        let callback = TaskMessage.make(task: "sum", args: [], kwargs: [:])
        _ = try await h.broker.publish(Broker.Group(id: "c1", members: Self.members(4, group: "c1"), callback: callback))
        #expect(try await h.run(["GET", "celery-taskset-meta-c1.s"]) == .bulkString(Array("4".utf8)))
        #expect(try await h.run(["EXISTS", "celery-taskset-meta-c1.c"]) == .integer(0))
        #expect(try await h.broker.record(callback.id)?.state == .pending)
        #expect(try await h.broker.group("c1")?.callbackID == callback.id)
        #expect(try await h.run(["LLEN", "celery"]) == .integer(4))
    }

    @Test func aRepeatedIdempotencyKey_publishesNothing_andReturnsTheFirstGroup() async throws {
        let h = try ScriptHarness()
        #expect(try await h.broker.publish(Broker.Group(id: "a", members: Self.members(2, group: "a")), idempotencyKey: "k") == "a")
        #expect(try await h.broker.publish(Broker.Group(id: "b", members: Self.members(2, group: "b")), idempotencyKey: "k") == "a")
        #expect(try await h.run(["LLEN", "celery"]) == .integer(2))
        #expect(try await h.broker.group("b") == nil)
    }

    @Test func oneKeyOfTheWrongType_isAClearError_andNothingIsWritten() async throws {
        let h = try ScriptHarness()
        // The third member's queue is a string: all members or none.
        try await h.run(["SET", "broken", "x"])
        let before = try await h.snapshot()
        await #expect(throws: RedisError.self) {
            try await h.broker.publish(Broker.Group(id: "g", members: Self.members(3, group: "g", queues: ["celery", "celery", "broken"])))
        }
        #expect(try await h.snapshot() == before)
    }

    @Test func aMemberRecordOfTheWrongType_amongMany_isAClearError_andNothingIsWritten() async throws {
        // Records are checked one EXISTS per 500 keys, and TYPE only where one exists: the 700th of 1,000
        // members has a list where its record goes, the 10th an old record (a hash, which is fine).
        let h = try ScriptHarness()
        let members = Self.members(1000, group: "g")
        try await h.run(["HSET", RedisArgument(h.broker.keys.taskRecord(members[9].id)), "state", "PENDING"])
        try await h.run(["RPUSH", RedisArgument(h.broker.keys.taskRecord(members[699].id)), "not a hash"])
        let before = try await h.snapshot()
        await #expect {
            try await h.broker.publish(Broker.Group(id: "g", members: members))
        } throws: { error in
            "\(error)".contains("WRONGTYPE \(h.broker.keys.taskRecord(members[699].id))") && "\(error)".contains("nothing written")
        }
        #expect(try await h.snapshot() == before)
        try await h.run(["DEL", RedisArgument(h.broker.keys.taskRecord(members[699].id))])
        #expect(try await h.broker.publish(Broker.Group(id: "g", members: members)) == "g")
        #expect(try await h.run(["LLEN", "celery"]) == .integer(1000))
    }

    @Test func aChain_pushesItsFirstTask_andRecordsTheLaterStepsAsPending() async throws {
        let h = try ScriptHarness()
        let steps = (0..<3).map { TaskMessage.make(task: "t\($0)", args: [], kwargs: [:]) }
        let ids = try await h.broker.publishChain(first: steps[0], later: Array(steps.dropFirst()), idempotencyKey: "c")
        #expect(ids == steps.map(\.id))
        #expect(try await h.run(["LLEN", "celery"]) == .integer(1))
        #expect(try await h.broker.record(steps[2].id)?.name == "t2")
        let again = try await h.broker.publishChain(first: TaskMessage.make(task: "x", args: [], kwargs: [:]), later: [], idempotencyKey: "c")
        #expect(again == ids)
        #expect(try await h.run(["LLEN", "celery"]) == .integer(1))
    }

    @Test func statuses_readRecordAndResultOfEveryID_inOneRoundTrip() async throws {
        let h = try ScriptHarness()
        let members = Self.members(2, group: "g")
        _ = try await h.broker.publish(Broker.Group(id: "g", members: members))
        try await h.results.store(.success(taskID: members[1].id, result: 7))
        let statuses = try await h.broker.statuses(members.map(\.id) + ["never"])
        #expect(statuses[0]?.state == .pending)
        #expect(statuses[1]?.state == .success)
        #expect(statuses[1]?.document?.result == 7)
        #expect(statuses[2] == nil)
    }

    @Test func savedGroup_readsWhatPythonWrites_andRejectsOtherDocuments() {
        let python = #"{"result": [["g", null], [[["a", null], null], [["b", null], null]]]}"#
        #expect(SavedGroup(bytes: Array(python.utf8)) == SavedGroup(id: "g", memberIDs: ["a", "b"]))
        #expect(SavedGroup(bytes: Array(#"{"status": "SUCCESS"}"#.utf8)) == nil)
        #expect(SavedGroup(bytes: Array("not json".utf8)) == nil)
        #expect(SavedGroup(bytes: SavedGroup(id: "x", memberIDs: ["y"]).encoded()) == SavedGroup(id: "x", memberIDs: ["y"]))
    }
}
