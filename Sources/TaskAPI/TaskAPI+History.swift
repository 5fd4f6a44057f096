import Foundation
import HTTPServer
import TaskProtocol
import TaskQueue

extension TaskAPI {
    /// Most items on one `GET /tasks` page; the default is 50.
    public static let maxPageSize = 500

    /// `GET /tasks`: the task history, newest first by submission, filtered and paged (`Broker.history`).
    func listTasks(_ request: HTTPRequest) async throws -> HTTPResponse {
        let query = try Self.historyQuery(request.query)
        let page = try await broker.history(query)
        let items: [JSONValue] = page.items.map { Self.historyItem($0) }
        let body: JSONValue = ["items": .array(items), "next_cursor": page.next.map { .string($0.encoded) } ?? .null,
                               "count": .int(Int64(items.count))]
        return .json(bytes: body.serializedBytes())
    }

    /// One task as a history page lists it.
    static func historyItem(_ item: HistoryPage.Item) -> JSONValue {
        let record = item.record
        func text(_ field: TaskRecord.Field) -> JSONValue { record[field].map { .string($0) } ?? .null }
        return .object([
            "id": .string(item.id), "task": text(.name), "state": text(.state), "queue": text(.queue),
            "worker": text(.worker), "submitted_at": text(.submittedAt), "received_at": text(.receivedAt),
            "started_at": text(.startedAt), "finished_at": text(.finishedAt),
            "runtime": record[.runtime].flatMap(Double.init).map { .double($0) } ?? .null,
            "retries": .int(Int64(record.retries)),
            "indexed_at": .string(CeleryDate.format(Date(timeIntervalSince1970: item.score / 1000))),
        ])
    }

    /// The query string of `GET /tasks`, checked: a 422 naming the first bad parameter.
    public static func historyQuery(_ parameters: [String: String]) throws -> HistoryQuery {
        func bad(_ field: String, _ detail: String) -> HTTPError {
            HTTPError(status: 422, title: "Unprocessable Content", detail: detail, field: field)
        }
        func name(_ field: String) throws -> String? {
            guard let text = parameters[field] else { return nil }
            guard !text.isEmpty, text.unicodeScalars.count <= 200 else { throw bad(field, "\(field) must be 1-200 characters") }
            return text
        }
        var query = HistoryQuery()
        if let text = parameters["limit"] {
            guard let limit = Int(text), (1...maxPageSize).contains(limit) else {
                throw bad("limit", "limit must be a whole number from 1 to \(maxPageSize), not '\(text.prefix(40))'")
            }
            query.limit = limit
        }
        if let state = parameters["state"] {
            guard TaskIndex.buckets.contains(state) else {
                throw bad("state", "state must be one of \(TaskIndex.buckets.joined(separator: ", ")), not '\(state.prefix(40))'")
            }
            query.state = state
        }
        query.task = try name("task")
        query.queue = try name("queue")
        query.worker = try name("worker")
        query.search = try name("q")
        query.since = try parameters["since"].map { try time($0, field: "since") }
        query.until = try parameters["until"].map { try time($0, field: "until") }
        if let text = parameters["cursor"] {
            guard let cursor = HistoryCursor(encoded: text) else { throw bad("cursor", "cursor is not one a previous page gave") }
            query.cursor = cursor
        }
        return query
    }

    /// A time parameter: an ISO-8601 date-time (`2026-11-29T10:00:00Z`, any year 1 to 9999) or epoch
    /// seconds (digits, up to 11, optionally a fraction: from 1970 to year 5138).
    static func time(_ text: String, field: String) throws -> Date {
        let epoch = text.utf8.count <= 18 && text.wholeMatch(of: /[0-9]{1,11}(\.[0-9]{1,6})?/) != nil
        guard let date = epoch ? Double(text).map(Date.init(timeIntervalSince1970:)) : CeleryDate.parse(text) else {
            throw HTTPError(status: 422, title: "Unprocessable Content",
                            detail: "\(field) must be an ISO-8601 date-time or epoch seconds, not '\(text.prefix(40))'", field: field)
        }
        return date
    }
}
