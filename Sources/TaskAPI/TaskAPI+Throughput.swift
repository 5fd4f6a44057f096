import Foundation
import HTTPServer
import TaskProtocol
import TaskQueue

extension TaskAPI {
    /// The longest window `GET /throughput` shows, in minutes (a day).
    public static let maxThroughputMinutes = 1_440

    /// `GET /throughput?minutes=60`: tasks succeeded and failed per minute, oldest first, the current
    /// minute last (counted by the completion scripts of Celeriac workers).
    func throughput(_ request: HTTPRequest) async throws -> HTTPResponse {
        var minutes = 60
        if let text = request.query["minutes"] {
            guard let value = Int(text), (1...Self.maxThroughputMinutes).contains(value) else {
                throw HTTPError(status: 422, title: "Unprocessable Content",
                                detail: "minutes must be a whole number from 1 to \(Self.maxThroughputMinutes), not '\(text.prefix(40))'",
                                field: "minutes")
            }
            minutes = value
        }
        let counts = try await broker.throughput(minutes: minutes)
        let items: [JSONValue] = counts.map {
            ["start": .string(CeleryDate.format($0.start)), "succeeded": .int(Int64($0.succeeded)), "failed": .int(Int64($0.failed))]
        }
        return .json(bytes: JSONValue.object(["minutes": .array(items)]).serializedBytes())
    }
}
