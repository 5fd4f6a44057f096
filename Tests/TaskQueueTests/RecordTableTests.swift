import Foundation
import RedisClient
import Testing
import TaskProtocol
@testable import TaskQueue

/// The PENDING records of a group written as one table (shared pairs once, a row of values per member).
@Suite struct RecordTableTests {
    @Test func split_sharesTheEqualFields_andKeepsRecordsWithOtherFieldsWhole() {
        let records: [(key: String, pairs: [(TaskRecord.Field, String)])] = [
            ("a", [(.state, "PENDING"), (.name, "t"), (.args, "(1,)")]),
            ("b", [(.state, "PENDING"), (.name, "t"), (.args, "(2,)")]),
            ("c", [(.state, "PENDING"), (.name, "t")]),
            ("d", [(.state, "PENDING"), (.name, "u"), (.args, "(4,)")]),
        ]
        let (table, rest) = RecordTable.split(records)
        #expect(table.shared.map(\.0) == [.state])
        #expect(table.columns == [.name, .args])
        #expect(table.rows.map(\.key) == ["a", "b", "d"])
        #expect(table.rows.map(\.values) == [["t", "(1,)"], ["t", "(2,)"], ["u", "(4,)"]])
        #expect(rest.map(\.key) == ["c"])
        #expect(RecordTable.split([]).table.rows.isEmpty)
    }

    @Test func aGroupOverTwoQueues_withAMemberOutsideIt_pushesEachQueueInOrder_andWritesEveryRecord() async throws {
        let h = try ScriptHarness()
        var members = PublishBatchTests.members(5, group: "g", queues: ["celery", "other"])
        // No group header: its record has no `group` field, so it is written whole, beside the table.
        members[3] = TaskMessage.make(task: "lone", args: [.string("x")], kwargs: ["k": 1], options: {
            var options = TaskMessage.Options()
            options.queue = "other"
            return options
        }())
        _ = try await h.broker.publish(Broker.Group(id: "g", members: members))
        for (queue, expected) in [("celery", [0, 2, 4]), ("other", [1, 3])] {
            let queued = try await h.run(["LRANGE", RedisArgument(queue), "0", "-1"]).array?.compactMap {
                $0.bytes.flatMap { try? TaskMessage.decode($0).id }
            }
            #expect(queued == expected.reversed().map { members[$0].id })
        }
        for (index, member) in members.enumerated() {
            let record = try #require(try await h.broker.record(member.id))
            #expect(record.state == .pending)
            #expect(record.name == member.task)
            #expect(record[.queue] == member.queue)
            #expect(record[.args] == (index == 3 ? "('x',)" : "(\(index),)"))
            #expect(record[.group] == (index == 3 ? nil : "g"))
            #expect(try await h.run(["TTL", RedisArgument(h.broker.keys.taskRecord(member.id))]).integer ?? 0 > 86000)
        }
        let kwargs = try await h.run(["HGET", RedisArgument(h.broker.keys.taskRecord(members[3].id)), "kwargs"]).string
        #expect(kwargs == "{'k': 1}")
    }
}
