import Foundation
import HTTPServer
import TaskProtocol
import TaskQueue

extension TaskAPI {
    /// `PUT /rate-limits/{task}` `{"rate": "10/s"}`: a global limit in Celery's syntax, which every
    /// worker applies from its next heartbeat (as Celery's `app.control.rate_limit` sets it at once).
    func putRateLimit(_ request: HTTPRequest) async throws -> HTTPResponse {
        let task = try Self.rateLimitTask(request)
        let body = try Submission.jsonObject(request)
        guard let text = body["rate"]?.stringValue, let limit = RateLimit(text) else {
            throw HTTPError(status: 422, detail: "'rate' must be Celery's syntax: N/s, N/m or N/h (N above 0, at most a million a second)", field: "rate")
        }
        try await broker.setRateLimit(limit, for: task)
        return .json(bytes: JSONValue.object(["task": .string(task), "rate": .string(limit.description)]).serializedBytes())
    }

    /// `GET /rate-limits/{task}`: the global limit set in Redis; 404 when there is none.
    func getRateLimit(_ request: HTTPRequest) async throws -> HTTPResponse {
        let task = try Self.rateLimitTask(request)
        guard let limit = try await broker.rateLimits()[task] else {
            throw HTTPError(status: 404, title: "Not Found", detail: "no rate limit is set for task '\(task)'", field: "task")
        }
        return .json(bytes: JSONValue.object(["task": .string(task), "rate": .string(limit.description)]).serializedBytes())
    }

    /// `DELETE /rate-limits/{task}`: removes the limit (a task's own `TaskOptions.rateLimit` applies again).
    func deleteRateLimit(_ request: HTTPRequest) async throws -> HTTPResponse {
        let task = try Self.rateLimitTask(request)
        try await broker.setRateLimit(nil, for: task)
        return .json(bytes: JSONValue.object(["task": .string(task), "rate": .null]).serializedBytes())
    }

    /// The `{task}` path parameter: 1-256 printable ASCII characters.
    static func rateLimitTask(_ request: HTTPRequest) throws -> String {
        let task = request.pathParameters["task"] ?? ""
        guard !task.isEmpty, task.utf8.count <= 256, task.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw HTTPError(status: 400, detail: "a task name is 1-256 printable ASCII characters", field: "task")
        }
        return task
    }
}
