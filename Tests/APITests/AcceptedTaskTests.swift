import Foundation
import Testing
import TaskProtocol
@testable import TaskAPI

/// The 202 body of `POST /tasks`, written as bytes, is the text of the `JSONValue` it replaced.
@Suite struct AcceptedTaskTests {
    static func reference(id: String, task: String, queue: String, eta: Date?) -> [UInt8] {
        JSONValue.object([
            "id": .string(id),
            "task": .string(task),
            "state": "PENDING",
            "queue": .string(queue),
            "eta": eta.map { .string(CeleryDate.format($0)) } ?? .null,
            "status_url": .string("/tasks/\(id)"),
        ]).serializedBytes()
    }

    @Test(arguments: [
        ("3129c06c-085b-4d8a-83ad-e19a4eb294ad", "celery_example_2.add", "celery", nil),
        ("id \"quoted\" \\ back", "tâche.ünïcode\u{1F600}", "q\tab", Date(timeIntervalSince1970: 1_795_979_464.187903)),
        ("x", "t", "high-priority", Date(timeIntervalSince1970: 0)),
    ] as [(String, String, String, Date?)])
    func acceptedBody_isTheObjectsSerialization(id: String, task: String, queue: String, eta: Date?) {
        let body = TaskAPI.acceptedBody(id: id, task: .string(task), state: "PENDING", queue: .string(queue),
                                        eta: eta.map { .string(CeleryDate.format($0)) } ?? .null, location: "/tasks/\(id)")
        #expect(body == Self.reference(id: id, task: task, queue: queue, eta: eta))
    }
}
