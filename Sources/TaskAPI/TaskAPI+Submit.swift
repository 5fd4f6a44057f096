import Foundation
import HTTPServer
import TaskProtocol
import TaskQueue

extension TaskAPI {
    /// The fields `POST /tasks` accepts; anything else is a 422 naming the field.
    static let submitFields: Set<String> = ["task", "args", "kwargs", "queue", "countdown", "eta", "expires", "priority"]

    /// `POST /tasks`: validates, publishes a Celery message, and answers 202 only once Redis has it.
    func submit(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try Self.jsonObject(request)
        for key in body.keys where !Self.submitFields.contains(key) {
            throw HTTPError(status: 422, detail: "unknown field '\(key)'", field: key)
        }
        guard let taskValue = body["task"], !taskValue.isNull else {
            throw HTTPError(status: 422, detail: "'task' is required: the registered task name", field: "task")
        }
        guard let task = taskValue.stringValue, !task.isEmpty, task.count <= 256 else {
            throw HTTPError(status: 422, detail: "'task' must be a non-empty string of at most 256 characters", field: "task")
        }
        let args: [JSONValue]
        switch body["args"] {
        case nil, .null?: args = []
        case .array(let a)?: args = a
        case let other?: throw HTTPError(status: 422, detail: "'args' must be an array, got \(other.typeName)", field: "args")
        }
        let kwargs: JSONObject
        switch body["kwargs"] {
        case nil, .null?: kwargs = [:]
        case .object(let o)?: kwargs = o
        case let other?: throw HTTPError(status: 422, detail: "'kwargs' must be an object, got \(other.typeName)", field: "kwargs")
        }
        var options = TaskMessage.Options()
        switch body["queue"] {
        case nil, .null?: break
        case .string(let q)? where Self.isValidQueue(q): options.queue = q
        default: throw HTTPError(status: 422, detail: "'queue' must be a non-empty string of at most 200 printable characters", field: "queue")
        }
        let now = Date()
        let countdown = try Self.optionalNumber(body, "countdown", min: 0)
        let eta = try Self.optionalDate(body, "eta")
        if countdown != nil && eta != nil {
            throw HTTPError(status: 422, detail: "give either 'countdown' or 'eta', not both", field: "eta")
        }
        if let countdown, countdown > 0 { options.eta = now.addingTimeInterval(countdown) }
        if let eta { options.eta = eta }
        switch body["expires"] {
        case nil, .null?: break
        case .string(let s)?:
            guard let date = CeleryDate.parse(s) else {
                throw HTTPError(status: 422, detail: "'expires' must be seconds from now or an ISO-8601 date-time", field: "expires")
            }
            options.expires = date
        case let v? where v.doubleValue != nil && v.doubleValue! > 0:
            options.expires = now.addingTimeInterval(v.doubleValue!)
        default: throw HTTPError(status: 422, detail: "'expires' must be positive seconds from now or an ISO-8601 date-time", field: "expires")
        }
        switch body["priority"] {
        case nil, .null?: break
        case .int(let p)? where (0...9).contains(p): options.priority = Int(p)
        default: throw HTTPError(status: 422, detail: "'priority' must be an integer 0-9 (on Redis 0 is served first)", field: "priority")
        }
        if !configuration.allowUnknownTasks, !(try await knownTasks.contains(task)) {
            throw HTTPError(status: 422, detail: "no live worker has registered task '\(task)' (start one, or run the API with --allow-unknown-tasks)",
                            field: "task")
        }
        let idempotencyKey = try request.headers["idempotency-key"].map { key -> String in
            guard (1...200).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw HTTPError(status: 400, detail: "Idempotency-Key must be 1 to 200 visible ASCII characters", field: "Idempotency-Key")
            }
            return key
        }
        options.origin = origin
        let message = TaskMessage.make(task: task, args: args, kwargs: kwargs, options: options)
        var id = message.id
        if let idempotencyKey {
            id = try await broker.enqueue(message, idempotencyKey: idempotencyKey, now: now)
        } else {
            try await broker.enqueue(message, now: now)
        }
        let replayed = id != message.id
        // A repeat with the same key answers with the task first submitted under it, as it is now.
        let view: JSONValue? = replayed ? try await taskView(id) : Optional.none
        var response = HTTPResponse.json(status: 202, bytes: JSONValue.object([
            "id": .string(id),
            "task": view?["task"] ?? .string(task),
            "state": view?["state"] ?? "PENDING",
            "queue": view?["queue"] ?? .string(options.queue),
            "eta": replayed ? .null : options.eta.map { .string(CeleryDate.format($0)) } ?? .null,
            "status_url": .string("/tasks/\(id)"),
        ]).serializedBytes())
        response.headers.add(name: "Location", value: "/tasks/\(id)")
        if replayed { response.headers.add(name: "Idempotent-Replayed", value: "true") }
        return response
    }

    /// `GET /tasks/{id}`: Celeriac's record and Celery's result document, merged. Unknown id → 404.
    /// `GET /tasks/{id}`; with `?wait=S`, a long poll: answers as soon as the task is ready (its result
    /// is published), or after S seconds with the state it has then.
    func status(_ request: HTTPRequest) async throws -> HTTPResponse {
        let id = try Self.taskID(request)
        let wait = try request.query["wait"].map { text -> Double in
            guard let seconds = Double(text), seconds >= 0, seconds <= configuration.maxWaitSeconds else {
                throw HTTPError(status: 422, title: "Unprocessable Content",
                                detail: "wait must be a number of seconds from 0 to \(configuration.maxWaitSeconds), not '\(text)'", field: "wait")
            }
            return seconds
        } ?? 0
        var view = try await taskView(id)
        // Not every publish is the end (a RETRY, a STARTED): wait again with the time that is left.
        let deadline = Date().addingTimeInterval(wait)
        while !Self.isReady(view), deadline.timeIntervalSinceNow > 0, !Task.isCancelled, await !resultWaiter.isClosed {
            try await resultWaiter.wait(for: id, timeout: deadline.timeIntervalSinceNow) { Self.isReady(try await taskView(id)) }
            view = try await taskView(id)
        }
        return .json(bytes: view.serializedBytes())
    }

    static func isReady(_ view: JSONValue) -> Bool {
        view.objectValue?["state"]?.stringValue.flatMap(TaskState.init(rawValue:))?.isReady ?? false
    }

    /// The task as `GET /tasks/{id}` shows it; 404 when neither a record nor a result exists.
    func taskView(_ id: String) async throws -> JSONValue {
        guard let (record, document) = try await broker.snapshot(id) else {
            throw HTTPError(status: 404, title: "Not Found", detail: "no task with id '\(id)' was ever submitted (or its record expired)", field: "id")
        }
        return Self.taskView(id: id, record: record, document: document)
    }

    /// The JSON shown for a task. The result document wins when it is final or the record lacks a state.
    static func taskView(id: String, record: TaskRecord, document: ResultDocument?) -> JSONValue {
        var state = record.state ?? document?.status ?? .pending
        if let document, document.status.isReady || record.state == nil || record.state == .pending || record.state == .received {
            state = document.status
        }
        func text(_ key: String) -> JSONValue { record.fields[key].map { .string($0) } ?? .null }
        var view: JSONObject = [
            "id": .string(id),
            "task": record.name.map { .string($0) } ?? document?.extended["name"] ?? .null,
            "state": .string(state.rawValue),
            "queue": text("queue"),
            "result": document?.status == .success ? document!.result : .null,
            "error": .null,
            "retries": .int(Int64(record.fields["retries"].flatMap(Int.init) ?? 0)),
            "attempts": .int(Int64(record.attempts)),
            "worker": record.worker.map { .string($0) } ?? document?.extended["worker"] ?? .null,
            "submitted_at": text("submitted_at"),
            "received_at": text("received_at"),
            "started_at": text("started_at"),
            "finished_at": record.fields["finished_at"].map { .string($0) } ?? document?.dateDone.map { .string($0) } ?? .null,
            "runtime": record.fields["runtime"].flatMap(Double.init).map { .double($0) } ?? .null,
        ]
        if let document, let exception = document.exception, document.status != .started {
            view["error"] = ["type": .string(exception.type), "message": .string(exception.text), "module": .string(exception.module)]
            view["traceback"] = document.traceback.map { .string($0) } ?? .null
        }
        if record.fields["dead_letter"] == "1" { view["dead_lettered"] = true }
        return .object(view)
    }

    // MARK: request parsing

    /// The `{id}` path parameter, checked: 1-200 printable ASCII characters.
    static func taskID(_ request: HTTPRequest) throws -> String {
        let id = request.pathParameters["id"] ?? ""
        guard !id.isEmpty, id.count <= 200, id.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw HTTPError(status: 400, detail: "a task id is 1-200 printable ASCII characters", field: "id")
        }
        return id
    }

    /// The body as a JSON object, or a 4xx naming what is wrong (for app routes too).
    public static func jsonObject(_ request: HTTPRequest) throws -> JSONObject {
        if let type = request.headers["content-type"]?.lowercased() {
            let base = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            // curl -d sends form-urlencoded by default; we read the bytes as JSON all the same.
            guard base == "application/json" || base.hasSuffix("+json") || base == "application/x-www-form-urlencoded" else {
                throw HTTPError(status: 415, detail: "send the body as application/json, not \(base)", field: "Content-Type")
            }
        }
        guard !request.body.isEmpty else { throw HTTPError(status: 400, detail: "the request body is empty; send a JSON object", field: "body") }
        let value: JSONValue
        do { value = try JSONValue.parse(request.body) } catch {
            throw HTTPError(status: 400, detail: "the body is not valid JSON: \(error)", field: "body")
        }
        guard let object = value.objectValue else {
            throw HTTPError(status: 422, detail: "the body must be a JSON object, got \(value.typeName)", field: "body")
        }
        return object
    }

    static func optionalNumber(_ body: JSONObject, _ field: String, min: Double) throws -> Double? {
        guard let value = body[field], !value.isNull else { return nil }
        guard let d = value.doubleValue, d >= min, d.isFinite else {
            throw HTTPError(status: 422, detail: "'\(field)' must be a number ≥ \(Int(min))", field: field)
        }
        return d
    }

    static func optionalDate(_ body: JSONObject, _ field: String) throws -> Date? {
        guard let value = body[field], !value.isNull else { return nil }
        guard let text = value.stringValue, let date = CeleryDate.parse(text) else {
            throw HTTPError(status: 422, detail: "'\(field)' must be an ISO-8601 date-time such as 2026-11-25T12:00:00+00:00", field: field)
        }
        return date
    }

    static func isValidQueue(_ q: String) -> Bool {
        !q.isEmpty && q.count <= 200 && q.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F }
    }
}
