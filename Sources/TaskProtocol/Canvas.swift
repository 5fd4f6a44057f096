/// Celery's canvas as carried in a message's `embed`: `chain` (the remaining signatures, **last one
/// next**) and `callbacks` (`link=`). On success the worker sends the next task of the chain and every
/// callback, each getting the result as its first argument unless the signature is immutable (`.si()`).
public enum Canvas {
    /// Why a signature in `embed` cannot be sent.
    public struct Unsupported: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The messages to send after `message` succeeded with `result`, in order: the chain's next task
    /// (carrying the rest of the chain), then the callbacks.
    public static func followUps(of message: TaskMessage, result: JSONValue) throws -> [TaskMessage] {
        guard case .object(let embed) = message.embed else { return [] }
        var out: [TaskMessage] = []
        if case .array(var chain)? = embed["chain"], let next = chain.popLast() {
            out.append(try make(next, parent: message, result: result, chain: chain))
        }
        if case .array(let callbacks)? = embed["callbacks"] {
            for callback in callbacks { out.append(try make(callback, parent: message, result: result, chain: [])) }
        }
        return out
    }

    /// The messages to send after `message` failed: its `link_error` errbacks, called the way Celery
    /// calls an errback it cannot run in-process (old style): with the failed task's id as first argument.
    public static func errbacks(of message: TaskMessage) throws -> [TaskMessage] {
        guard case .object(let embed) = message.embed, case .array(let errbacks)? = embed["errbacks"] else { return [] }
        return try errbacks.map { try make($0, parent: message, result: .string(message.id), chain: []) }
    }

    /// The message of a chord's callback, which gets the list of the header's results.
    public static func chordCallback(_ signature: JSONValue, parent: TaskMessage, results: [JSONValue]) throws -> TaskMessage {
        try make(signature, parent: parent, result: .array(results), chain: [])
    }

    static func make(_ signature: JSONValue, parent: TaskMessage, result: JSONValue, chain: [JSONValue]) throws -> TaskMessage {
        guard let sig = signature.objectValue, let task = sig["task"]?.stringValue else {
            throw Unsupported(description: "a signature without a task name: \(signature.serialized())")
        }
        if let type = sig["subtask_type"]?.stringValue {
            throw Unsupported(description: "canvas type '\(type)' (\(task)) is not supported by Celeriac workers yet")
        }
        let options = sig["options"]?.objectValue ?? [:]
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
