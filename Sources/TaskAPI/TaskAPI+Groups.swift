import Foundation
import HTTPServer
import TaskProtocol
import TaskQueue

extension TaskAPI {
    /// `POST /groups`: `{"tasks": [task objects], "callback": task object?}` — every member published in
    /// one Redis step with Celery's saved `GroupResult`; with `callback`, a chord (the callback gets the
    /// list of the members' results first, sent by the worker that finishes the last member).
    func submitGroup(_ request: HTTPRequest) async throws -> HTTPResponse {
        let now = Date()
        let body = try Submission.jsonObject(request)
        let idempotencyKey = try Submission.idempotencyKey(request)
        for key in body.keys where key != "tasks" && key != "callback" {
            throw HTTPError(status: 422, detail: "unknown field '\(key)' (a group has 'tasks' and an optional 'callback')", field: key.isEmpty ? "body" : key)
        }
        let members = try members(body, now: now, max: configuration.maxGroupSize)
        let callback = try body["callback"].flatMap { $0.isNull ? Optional<JSONValue>.none : $0 }.map { value -> Submission in
            try chained(value, field: "callback", now: now)
        }
        try await checkKnown(members.map(\.task) + (callback.map { [$0.task] } ?? []))
        let groupID = TaskMessage.newID()
        let callbackMessage = callback.map { message(from: $0, id: TaskMessage.newID(), groupID: groupID) }
        let chord = callbackMessage.map { signature(of: $0, groupID: groupID) }
        // A chord's members carry the callback in `embed.chord`.
        let embed: JSONValue = chord.map { ["callbacks": nil, "errbacks": nil, "chain": nil, "chord": $0] } ?? TaskMessage.emptyEmbed
        // Encoded only (no whole message each), on every core, as a big group's cost is mostly here.
        let messages = await Array(members.enumerated()).concurrentMap { [self] index, member in
            encoded(from: member, groupID: groupID, groupIndex: index, embed: embed)
        }
        async let published = broker.publish(Broker.Group(id: groupID, encoded: messages, callback: callbackMessage),
                                             idempotencyKey: idempotencyKey, now: now)
        // While Redis runs the script: the request's JSON tree is freed and the 202 body a first
        // submission gets is written (a replay answers with the stored group instead).
        withExtendedLifetime((body, members)) {}
        let accepted = Self.acceptedGroup(id: groupID, members: messages.lazy.map { ($0.id, $0.task) }, size: messages.count,
                                          callback: callbackMessage.map { ($0.id, $0.task) })
        let id = try await published
        let replayed = id != groupID
        var response: HTTPResponse
        if replayed {
            // A repeat with the same key answers with the group first submitted under it, as it is now.
            var view = try await groupView(id).objectValue ?? [:]
            view["status_url"] = .string("/groups/\(id)")
            response = .json(status: 202, bytes: JSONValue.object(view).serializedBytes())
            response.headers.add(name: "Idempotent-Replayed", value: "true")
        } else {
            response = .json(status: 202, bytes: accepted)
        }
        response.headers.add(name: "Location", value: "/groups/\(id)")
        return response
    }

    /// `POST /chains`: `{"tasks": [task objects]}` — each result becomes the first argument of the next
    /// task (Celery's chain, carried in the message's `embed.chain`); `status_url` follows the last task.
    func submitChain(_ request: HTTPRequest) async throws -> HTTPResponse {
        let now = Date()
        let body = try Submission.jsonObject(request)
        let idempotencyKey = try Submission.idempotencyKey(request)
        for key in body.keys where key != "tasks" {
            throw HTTPError(status: 422, detail: "unknown field '\(key)' (a chain has 'tasks')", field: key.isEmpty ? "body" : key)
        }
        let steps = try members(body, now: now, max: configuration.maxChainLength, laterStepsChained: true)
        try await checkKnown(steps.map(\.task))
        let messages = steps.map { message(from: $0, id: TaskMessage.newID()) }
        var first = messages[0]
        let rest = messages.dropFirst().reversed().map { signature(of: $0, groupID: nil) }
        first.embed = ["callbacks": nil, "errbacks": nil, "chain": rest.isEmpty ? JSONValue.null : .array(rest), "chord": nil]
        let ids = try await broker.publishChain(first: first, later: Array(messages.dropFirst()), idempotencyKey: idempotencyKey, now: now)
        let replayed = ids.first != first.id
        let last = ids.last ?? first.id
        var response = HTTPResponse.json(status: 202, bytes: JSONValue.object([
            "id": .string(last), "task_ids": .array(ids.map { .string($0) }), "tasks": .array(zip(ids, steps).map {
                ["id": .string($0.0), "task": .string($0.1.task)]
            }),
            "status_url": .string("/tasks/\(last)"),
        ]).serializedBytes())
        response.headers.add(name: "Location", value: "/tasks/\(last)")
        if replayed { response.headers.add(name: "Idempotent-Replayed", value: "true") }
        return response
    }

    /// The `tasks` array, each member validated as `POST /tasks` validates a body (errors name
    /// `tasks[i].field`). In a chain only the first step may be delayed or expire.
    func members(_ body: JSONObject, now: Date, max: Int, laterStepsChained: Bool = false) throws -> [Submission] {
        guard let value = body["tasks"], !value.isNull else {
            throw HTTPError(status: 422, detail: "'tasks' is required: an array of task objects as POST /tasks takes them", field: "tasks")
        }
        guard let items = value.arrayValue else {
            throw HTTPError(status: 422, detail: "'tasks' must be an array of task objects, got \(value.typeName)", field: "tasks")
        }
        guard (1...max).contains(items.count) else {
            throw HTTPError(status: 422, detail: "'tasks' must hold 1 to \(max) task objects, not \(items.count)", field: "tasks")
        }
        return try items.enumerated().map { index, item in
            let field = "tasks[\(index)]"
            return laterStepsChained && index > 0 ? try chained(item, field: field, now: now) : try member(item, field: field, now: now)
        }
    }

    /// A task object at `field`, its errors renamed `field.name`.
    func member(_ value: JSONValue, field: String, now: Date) throws -> Submission {
        guard let object = value.objectValue else {
            throw HTTPError(status: 422, detail: "'\(field)' must be a task object, got \(value.typeName)", field: field)
        }
        do { return try Submission(body: object, now: now) } catch var error as HTTPError {
            error.field = error.field.map { $0 == "body" ? field : "\(field).\($0)" } ?? field
            throw error
        }
    }

    /// A task a worker sends later (a chain's next step, a chord's callback): its time fields would be lost on the way.
    func chained(_ value: JSONValue, field: String, now: Date) throws -> Submission {
        let submission = try member(value, field: field, now: now)
        for name in ["countdown", "eta", "expires"] where !(value[name]?.isNull ?? true) {
            throw HTTPError(status: 422, detail: "'\(name)' is only allowed on tasks sent at once (not on a chain's later step or a chord's callback)",
                            field: "\(field).\(name)")
        }
        return submission
    }

    func checkKnown(_ names: [String]) async throws {
        guard !configuration.allowUnknownTasks else { return }
        for name in Set(names).sorted() where !(try await knownTasks.contains(name)) {
            throw HTTPError(status: 422, detail: "no live worker has registered task '\(name)' (start one, or run the API with --allow-unknown-tasks)",
                            field: "task")
        }
    }

    func message(from submission: Submission, id: String, groupID: String? = nil, groupIndex: Int? = nil,
                 embed: JSONValue = TaskMessage.emptyEmbed) -> TaskMessage {
        var options = submission.options
        options.origin = origin
        options.groupID = groupID
        options.groupIndex = groupIndex
        return TaskMessage.make(task: submission.task, id: id, args: submission.args, kwargs: submission.kwargs, options: options,
                                embed: embed)
    }

    /// A member as `message(from:)` builds it, encoded only.
    func encoded(from submission: Submission, groupID: String, groupIndex: Int, embed: JSONValue) -> TaskMessage.Encoded {
        var options = submission.options
        options.origin = origin
        options.groupID = groupID
        options.groupIndex = groupIndex
        return TaskMessage.encode(task: submission.task, args: submission.args, kwargs: submission.kwargs, options: options, embed: embed)
    }

    /// The signature a worker (ours or Python's) sends later with the previous result as first argument.
    func signature(of message: TaskMessage, groupID: String?) -> JSONValue {
        var options: JSONObject = ["task_id": .string(message.id), "queue": .string(message.queue)]
        if let priority = message.priority { options["priority"] = .int(Int64(priority)) }
        if let groupID { options["group_id"] = .string(groupID) }
        return ["task": .string(message.task), "args": .array(message.args), "kwargs": .object(message.kwargs),
                "options": .object(options), "subtask_type": nil, "immutable": false]
    }
}
