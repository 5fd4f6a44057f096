import Foundation
import HTTPServer
import TaskProtocol
import TaskQueue

extension TaskAPI {
    /// `POST /tasks`: validates, publishes a Celery message, and answers 202 only once Redis has it.
    ///
    /// The work before and after the awaits is in synchronous helpers: an async function's frame holds
    /// every local it ever has, and the task allocator gives a frame over ~1 KB a slab of its own, which
    /// glibc then serves outside its thread cache (this one was 2.7 KB, once per request).
    nonisolated(nonsending) func submit(_ request: HTTPRequest) async throws -> HTTPResponse {
        let prepared = try prepareSubmission(request)
        if !configuration.allowUnknownTasks { try await requireKnown(prepared.task) }
        guard case .encoded(let encoded) = prepared.publish else { return try await submitOnce(prepared) }
        try await broker.enqueue(encoded, now: prepared.now)
        return accepted(prepared, id: prepared.id, view: nil)
    }

    /// A 422 unless a live worker has registered `task`.
    @inline(never)
    nonisolated(nonsending) func requireKnown(_ task: String) async throws {
        if !(try await knownTasks.contains(task)) {
            throw HTTPError(status: 422, detail: "no live worker has registered task '\(task)' (start one, or run the API with --allow-unknown-tasks)",
                            field: "task")
        }
    }

    /// A submission with an `Idempotency-Key` or `unique_for`: a repeat answers with the task first
    /// submitted under it, as it is now.
    @inline(never)
    nonisolated(nonsending) func submitOnce(_ prepared: PreparedSubmission) async throws -> HTTPResponse {
        let id: String
        switch prepared.publish {
        case .encoded(let encoded):
            try await broker.enqueue(encoded, now: prepared.now)
            id = prepared.id
        case .idempotent(let message, let key):
            id = try await broker.enqueue(message, idempotencyKey: key, now: prepared.now)
        case .unique(let message, let seconds):
            id = try await broker.enqueue(message, uniqueFor: seconds, now: prepared.now)
        }
        let view: JSONValue? = id != prepared.id ? try await taskView(id) : Optional.none
        return accepted(prepared, id: id, view: view)
    }

    /// A validated submission and the message to publish for it.
    struct PreparedSubmission {
        enum Publish {
            /// The common path needs only the envelope: the same bytes, without the ordered headers `make` keeps.
            case encoded(TaskMessage.Encoded)
            // Boxed: a whole `TaskMessage` would widen the hot path's async frame.
            indirect case idempotent(TaskMessage, key: String)
            indirect case unique(TaskMessage, seconds: Double)
        }
        var task: String
        var id: String
        var queue: String
        var eta: Date?
        var now: Date
        var publish: Publish
    }

    /// The request read and checked, and its message built (no Redis).
    @inline(never)
    func prepareSubmission(_ request: HTTPRequest) throws -> PreparedSubmission {
        let now = Date()
        let submission = try Submission(request, now: now)
        let task = submission.task
        var options = submission.options
        options.origin = origin
        // When it was accepted, for the workers' queue-wait histogram (Celery ignores headers it does not know).
        options.sentAt = now
        let newID = TaskMessage.newID()
        let publish: PreparedSubmission.Publish
        if let idempotencyKey = submission.idempotencyKey {
            publish = .idempotent(TaskMessage.make(task: task, id: newID, args: submission.args, kwargs: submission.kwargs, options: options),
                                  key: idempotencyKey)
        } else if let uniqueFor = submission.uniqueFor ?? configuration.uniqueFor[task] {
            publish = .unique(TaskMessage.make(task: task, id: newID, args: submission.args, kwargs: submission.kwargs, options: options),
                              seconds: uniqueFor)
        } else {
            publish = .encoded(TaskMessage.encode(task: task, id: newID, args: submission.args, kwargs: submission.kwargs, options: options))
        }
        return PreparedSubmission(task: task, id: newID, queue: options.queue, eta: options.eta, now: now, publish: publish)
    }

    /// The 202 for a published submission; `view` is the task first submitted when this one was a repeat.
    @inline(never)
    func accepted(_ prepared: PreparedSubmission, id: String, view: JSONValue?) -> HTTPResponse {
        let replayed = id != prepared.id
        if !replayed { metrics.submitted(task: prepared.task, queue: prepared.queue) }
        let location = "/tasks/\(id)"
        let body = Self.acceptedBody(id: id, task: view?["task"] ?? .string(prepared.task), state: view?["state"] ?? "PENDING",
                                     queue: view?["queue"] ?? .string(prepared.queue),
                                     eta: replayed ? .null : prepared.eta.map { .string(CeleryDate.format($0)) } ?? .null,
                                     location: location)
        var response = HTTPResponse(status: 202, headers: ["Content-Type": "application/json", "Location": location], body: body)
        if replayed { response.headers.add(name: "Idempotent-Replayed", value: "true") }
        return response
    }

    /// The 202 body, written straight out: the bytes a `JSONValue.object` of these fields gives (same
    /// order, same escaping), without building the object (one per submission on the hot path).
    static func acceptedBody(id: String, task: JSONValue, state: JSONValue, queue: JSONValue, eta: JSONValue,
                             location: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + 2 * id.utf8.count)
        out.append(contentsOf: #"{"id": "#.utf8)
        JSONValue.string(id).write(to: &out)
        out.append(contentsOf: #", "task": "#.utf8)
        task.write(to: &out)
        out.append(contentsOf: #", "state": "#.utf8)
        state.write(to: &out)
        out.append(contentsOf: #", "queue": "#.utf8)
        queue.write(to: &out)
        out.append(contentsOf: #", "eta": "#.utf8)
        eta.write(to: &out)
        out.append(contentsOf: #", "status_url": "#.utf8)
        JSONValue.string(location).write(to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `GET /tasks/{id}`: Celeriac's record and Celery's result document, merged. Unknown id → 404.
    /// `GET /tasks/{id}`; with `?wait=S`, a long poll: answers as soon as the task is ready (its result
    /// is published), or after S seconds with the state it has then.
    func status(_ request: HTTPRequest) async throws -> HTTPResponse {
        let id = try Self.taskID(request)
        let wait = try Self.waitSeconds(request, max: configuration.maxWaitSeconds)
        var view = try await taskView(id)
        // Not every publish is the end (a RETRY, a STARTED): wait again with the time that is left.
        let deadline = Date().addingTimeInterval(wait)
        let polling = wait > 0 && !Self.isReady(view)
        if polling { metrics.longPolls.increment() }
        defer { if polling { metrics.longPolls.decrement() } }
        while !Self.isReady(view), deadline.timeIntervalSinceNow > 0, !Task.isCancelled, await !resultWaiter.isClosed {
            try await resultWaiter.wait(for: id, timeout: deadline.timeIntervalSinceNow) { Self.isReady(try await taskView(id)) }
            view = try await taskView(id)
        }
        return .json(bytes: view.serializedBytes())
    }

    /// Arguments a Python worker stored with `result_extended` (when no Celeriac record has them), as JSON text.
    static func extendedRepr(_ value: JSONValue?) -> JSONValue {
        guard let value, value != .null else { return .null }
        return .string(TaskRecord.clipped(value.serialized()))
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
            "args": text("args") == .null ? Self.extendedRepr(document?.extended["args"]) : text("args"),
            "kwargs": text("kwargs") == .null ? Self.extendedRepr(document?.extended["kwargs"]) : text("kwargs"),
            "group": text("group"),
        ]
        // A custom state's meta (`context.progress`, Python's `update_state`) while it is the latest word.
        if let document, document.status.isCustom, document.status == state { view["meta"] = document.result }
        if let document, let exception = document.exception {
            view["error"] = ["type": .string(exception.type), "message": .string(exception.text), "module": .string(exception.module)]
            view["traceback"] = document.traceback.map { .string($0) } ?? .null
        }
        if record.fields["dead_letter"] == "1" { view["dead_lettered"] = true }
        return .object(view)
    }

    // MARK: request parsing

    /// The `{id}` path parameter, checked: 1-200 printable ASCII characters.
    public static func taskID(_ request: HTTPRequest) throws -> String {
        let id = request.pathParameters["id"] ?? ""
        guard !id.isEmpty, id.count <= 200, id.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw HTTPError(status: 400, detail: "a task id is 1-200 printable ASCII characters", field: "id")
        }
        return id
    }

    /// `?wait=S` of a status request: seconds from 0 to `max`, else a 422 naming `wait`.
    public static func waitSeconds(_ request: HTTPRequest, max: Double) throws -> Double {
        guard let text = request.query["wait"] else { return 0 }
        guard let seconds = Double(text), TimeBounds.isDelay(seconds, atMost: max) else {
            throw HTTPError(status: 422, title: "Unprocessable Content",
                            detail: "wait must be a number of seconds from 0 to \(max), not '\(text)'", field: "wait")
        }
        return seconds
    }
}
