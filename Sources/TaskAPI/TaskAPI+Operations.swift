import Foundation
import HTTPServer
import TaskProtocol
import TaskQueue

extension TaskAPI {
    /// `GET /workers`: the live workers, as their heartbeats describe them.
    func workers(_ request: HTTPRequest) async throws -> HTTPResponse {
        let workers = try await broker.liveWorkers()
        let items: [JSONValue] = workers.sorted { $0.name < $1.name }.map { name, fields in
            func json(_ key: String) -> JSONValue { fields[key].flatMap { try? JSONValue.parse($0) } ?? .null }
            func int(_ key: String) -> JSONValue { fields[key].flatMap(Int64.init).map(JSONValue.int) ?? .null }
            return ["name": .string(name), "queues": json("queues"), "tasks": json("tasks"),
                    "concurrency": int("concurrency"), "active": int("active"), "processed": int("processed"),
                    "pid": int("pid"), "heartbeat": fields["heartbeat"].map(JSONValue.string) ?? .null]
        }
        return .json(bytes: JSONValue.object(["items": .array(items), "count": .int(Int64(items.count))]).serializedBytes())
    }

    /// `GET /queues`: what waits in each queue consumed by a live worker (plus `celery` and any
    /// `?queue=` asked for), and how much is held by workers, scheduled, or dead-lettered.
    func queues(_ request: HTTPRequest) async throws -> HTTPResponse {
        var names = Set(["celery"])
        for (_, fields) in try await broker.liveWorkers() {
            for queue in fields["queues"].flatMap({ try? JSONValue.parse($0) })?.arrayValue ?? [] {
                if let name = queue.stringValue { names.insert(name) }
            }
        }
        if let asked = request.query["queue"] {
            guard !asked.isEmpty, asked.utf8.count <= 200 else {
                throw HTTPError(status: 400, detail: "queue must be a name of 1 to 200 bytes", field: "queue")
            }
            names.insert(asked)
        }
        let depths = try await broker.queueDepths(names.sorted())
        let queues: [JSONValue] = depths.queues.map { ["name": .string($0.name), "waiting": .int(Int64($0.waiting))] }
        return .json(bytes: JSONValue.object([
            "queues": .array(queues), "held": .int(Int64(depths.held)), "scheduled": .int(Int64(depths.scheduled)),
            "dead_letters": .int(Int64(depths.deadLetters)),
        ]).serializedBytes())
    }
}
