import Testing
import TaskProtocol
@testable import TaskAPI

/// The 202 body of `POST /groups`, written as bytes, is the text of the `JSONValue` it replaced.
@Suite struct AcceptedGroupTests {
    static func reference(id: String, members: [(String, String)], callback: (id: String, task: String)?) -> [UInt8] {
        JSONValue.object([
            "id": .string(id), "state": "PENDING", "size": .int(Int64(members.count)),
            "tasks": .array(members.map { ["id": .string($0.0), "task": .string($0.1), "state": "PENDING"] }),
            "callback": callback.map { ["id": .string($0.id), "task": .string($0.task), "state": "PENDING"] } ?? .null,
            "status_url": .string("/groups/\(id)"),
        ]).serializedBytes()
    }

    @Test func acceptedGroup_isTheSerializedObject_withAndWithoutACallback() {
        let members = [("a", "celery_example_2.add"), ("b\"\\", "t\u{e9}\u{1F600}\n")]
        for callback in [nil, (id: "c", task: "sum")] as [(id: String, task: String)?] {
            #expect(TaskAPI.acceptedGroup(id: "g", members: members, size: 2, callback: callback)
                    == Self.reference(id: "g", members: members, callback: callback))
        }
        #expect(TaskAPI.acceptedGroup(id: "g", members: [(String, String)](), size: 0, callback: nil)
                == Self.reference(id: "g", members: [], callback: nil))
    }
}
