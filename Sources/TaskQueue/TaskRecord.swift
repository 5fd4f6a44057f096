import TaskProtocol

/// Celeriac's record of a task (hash `celeriac:task:<id>`): what Celery's result document lacks —
/// name, queue, timestamps, attempts, worker — so `GET /tasks/<id>` can show the whole story.
public struct TaskRecord: Sendable, Equatable {
    /// The hash's fields. Their names are part of the API (`GET /tasks/{id}` and tests read them):
    /// never rename one.
    public enum Field: String, Sendable, CaseIterable {
        case name, queue, state, worker, retries, attempts, error, runtime
        case submittedAt = "submitted_at", receivedAt = "received_at", startedAt = "started_at"
        case finishedAt = "finished_at", revokedAt = "revoked_at", deadLetter = "dead_letter"
        /// Celery's `argsrepr`/`kwargsrepr` of the submitted message, cut to `reprLimit` bytes; the group id.
        case args, kwargs, group
    }

    /// Most bytes of `args` and `kwargs` a record keeps (4 KiB each); longer ones end with `...`.
    public static let reprLimit = 4096

    /// `text` cut to at most `reprLimit` bytes on a character boundary, `...` marking a cut.
    public static func clipped(_ text: String) -> String {
        guard text.utf8.count > reprLimit else { return text }
        var out = ""
        var bytes = 0
        for character in text {
            let size = character.utf8.count
            if bytes + size > reprLimit - 3 { break }
            out.append(character)
            bytes += size
        }
        return out + "..."
    }

    /// Every field as stored, by its Redis name.
    public var fields: [String: String]

    /// A record from a hash read back from Redis (HGETALL).
    public init(fields: [String: String]) { self.fields = fields }

    /// The stored value of `field`, if any.
    public subscript(_ field: Field) -> String? { fields[field.rawValue] }

    /// The task's registered name.
    public var name: String? { self[.name] }
    /// The state the record was last moved to (the result document may be newer; see the task view).
    public var state: TaskState? { self[.state].flatMap(TaskState.init(rawValue:)) }
    /// The queue it was submitted to.
    public var queue: String? { self[.queue] }
    /// The node that received it last.
    public var worker: String? { self[.worker] }
    /// Celery's retry count of the attempt recorded last.
    public var retries: Int { Int(self[.retries] ?? "") ?? 0 }
    /// How many times a worker started it (a hand-back at shutdown does not count).
    public var attempts: Int { Int(self[.attempts] ?? "") ?? 0 }
}
