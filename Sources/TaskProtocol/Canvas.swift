/// Celery's canvas as carried in a message's `embed`: `chain` (the remaining signatures, **last one
/// next**) and `callbacks` (`link=`). On success the worker sends the next task of the chain and every
/// callback, each getting the result as its first argument unless the signature is immutable (`.si()`).
public enum Canvas {
    /// Why a signature in `embed` cannot be sent.
    public struct Unsupported: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// What to send after a task succeeded: messages, and the chords they start, whose size must be in
    /// Redis (`celery-taskset-meta-<group>.s`) before their header tasks go out.
    public struct FollowUps: Sendable {
        public var messages: [TaskMessage] = []
        public var chordSizes: [(groupID: String, size: Int)] = []
    }

    /// The messages to send after `message` succeeded with `result`, in order: the chain's next step
    /// (a task carrying the rest of the chain, or a group's or chord's tasks), then the callbacks.
    public static func followUps(of message: TaskMessage, result: JSONValue) throws -> FollowUps {
        guard case .object(let embed) = message.embed else { return FollowUps() }
        var out = FollowUps()
        if case .array(var chain)? = embed["chain"], let next = chain.popLast() {
            try apply(next, parent: message, result: result, chain: chain, into: &out)
        }
        if case .array(let callbacks)? = embed["callbacks"] {
            for callback in callbacks { try apply(callback, parent: message, result: result, chain: [], into: &out) }
        }
        return out
    }

    /// Sends a signature the way Celery's `apply_async(args=(result,))` would: a task; a group (each
    /// task in it, with the group's id and index); a chord (its header tasks, each naming the body as
    /// its chord callback; the rest of the chain goes on after the body); a chain (its first task,
    /// carrying the rest).
    static func apply(_ signature: JSONValue, parent: TaskMessage, result: JSONValue, chain: [JSONValue],
                      into out: inout FollowUps) throws {
        guard let sig = signature.objectValue else {
            throw Unsupported(description: "a signature that is not an object: \(signature.serialized())")
        }
        let options = sig["options"]?.objectValue ?? [:]
        func tasks(_ group: JSONValue?) -> [JSONValue] { group?["kwargs"]?["tasks"]?.arrayValue ?? [] }
        func with(_ signature: JSONValue, options extra: [(String, JSONValue)]) -> JSONValue {
            guard var object = signature.objectValue else { return signature }
            var options = object["options"]?.objectValue ?? [:]
            for (key, value) in extra { options[key] = value }
            object["options"] = .object(options)
            return .object(object)
        }
        switch sig["subtask_type"]?.stringValue {
        case nil:
            out.messages.append(try make(signature, parent: parent, result: result, chain: chain))
        case "chain":
            var steps = tasks(signature)
            guard !steps.isEmpty else { return }
            let first = steps.removeFirst()
            try apply(first, parent: parent, result: result, chain: chain + steps.reversed(), into: &out)
        case "group":
            guard chain.isEmpty else {
                throw Unsupported(description: "a chain that goes on after a group (Celery makes that a chord)")
            }
            let groupID = options["task_id"]?.stringValue ?? TaskMessage.newID()
            for (index, task) in tasks(signature).enumerated() {
                let index = task["options"]?["group_index"] ?? .int(Int64(index))
                try apply(with(task, options: [("group_id", .string(groupID)), ("group_index", index)]),
                          parent: parent, result: result, chain: [], into: &out)
            }
        case "chord":
            let kwargs = sig["kwargs"]?.objectValue ?? [:]
            guard let header = kwargs["header"], let body = kwargs["body"] else {
                throw Unsupported(description: "a chord without header or body: \(signature.serialized())")
            }
            let groupID = header["options"]?["task_id"]?.stringValue ?? options["task_id"]?.stringValue ?? TaskMessage.newID()
            // The rest of the chain goes on after the body (Celery's `chain` option).
            var callback = with(body, options: [("group_id", .string(groupID))])
            if !chain.isEmpty { callback = with(callback, options: [("chain", .array(chain))]) }
            let members = tasks(header)
            guard !members.isEmpty else {
                try apply(callback, parent: parent, result: .array([]), chain: [], into: &out)
                return
            }
            out.chordSizes.append((groupID, members.count))
            for (index, task) in members.enumerated() {
                let index = task["options"]?["group_index"] ?? .int(Int64(index))
                let member = with(task, options: [("group_id", .string(groupID)), ("group_index", index), ("chord", callback)])
                guard member["subtask_type"]?.stringValue == nil else {
                    throw Unsupported(description: "a \(member["subtask_type"]!.serialized()) inside a chord's header")
                }
                out.messages.append(try make(member, parent: parent, result: result, chain: []))
            }
        case let type?:
            throw Unsupported(description: "canvas type '\(type)' is not supported by Celeriac workers yet")
        }
    }

    /// The messages to send after `message` failed: its `link_error` errbacks, called the way Celery
    /// calls an errback it cannot run in-process (old style): with the failed task's id as first argument.
    public static func errbacks(of message: TaskMessage) throws -> FollowUps {
        var out = FollowUps()
        guard case .object(let embed) = message.embed, case .array(let errbacks)? = embed["errbacks"] else { return out }
        for errback in errbacks { try apply(errback, parent: message, result: .string(message.id), chain: [], into: &out) }
        return out
    }

    /// What a complete chord sends: its callback (a task, or a chain, group or chord) with the list
    /// of the header's results.
    public static func chordCallback(_ signature: JSONValue, parent: TaskMessage, results: [JSONValue]) throws -> FollowUps {
        var out = FollowUps()
        try apply(signature, parent: parent, result: .array(results), chain: [], into: &out)
        return out
    }

    static func make(_ signature: JSONValue, parent: TaskMessage, result: JSONValue, chain: [JSONValue]) throws -> TaskMessage {
        guard let sig = signature.objectValue, let task = sig["task"]?.stringValue else {
            throw Unsupported(description: "a signature without a task name: \(signature.serialized())")
        }
        let options = sig["options"]?.objectValue ?? [:]
        // A chord callback carries the rest of its chain in Celery's `chain` option.
        let chain = chain.isEmpty ? (options["chain"]?.arrayValue ?? []) : chain
        var args = sig["args"]?.arrayValue ?? []
        if sig["immutable"]?.boolValue != true { args.insert(result, at: 0) }
        var messageOptions = TaskMessage.Options()
        messageOptions.queue = options["queue"]?.stringValue ?? parent.queue
        messageOptions.priority = options["priority"]?.intValue.map { Int($0) }
        messageOptions.parentID = parent.id
        messageOptions.rootID = parent.rootID ?? parent.id
        messageOptions.origin = parent.headers["origin"]?.stringValue ?? "celeriac"
        messageOptions.groupID = options["group_id"]?.stringValue
        messageOptions.groupIndex = options["group_index"]?.intValue.map { Int($0) }
        var next = TaskMessage.make(task: task, id: options["task_id"]?.stringValue ?? TaskMessage.newID(),
                                    args: args, kwargs: sig["kwargs"]?.objectValue ?? [:], options: messageOptions)
        next.embed = [
            "callbacks": options["link"].map { $0.arrayValue.map(JSONValue.array) ?? .array([$0]) } ?? .null,
            "errbacks": options["link_error"].map { $0.arrayValue.map(JSONValue.array) ?? .array([$0]) } ?? .null,
            "chain": chain.isEmpty ? .null : .array(chain),
            // A chain inside a chord's header: its last task reports to the chord.
            "chord": options["chord"] ?? .null,
        ]
        return next
    }
}
