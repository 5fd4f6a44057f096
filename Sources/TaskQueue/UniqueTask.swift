import Foundation
import TaskProtocol

/// What makes two submissions "the same task" for `unique_for`: the task name and its arguments, with
/// object keys sorted and integral floats written as integers (Python's `1 == 1.0`), hashed.
public enum UniqueTask {
    /// The content hash naming a unique task's claim (`KeySpace.unique`).
    public static func key(task: String, args: [JSONValue], kwargs: JSONObject) -> String {
        let canonical: JSONValue = [.string(task), canonicalize(.array(args)), canonicalize(.object(kwargs))]
        return SHA256.hex(canonical.serializedBytes())
    }

    static func canonicalize(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items): return .array(items.map(canonicalize))
        case .object(let object):
            return .object(JSONObject(object.pairs.sorted { $0.key < $1.key }.map { ($0.key, canonicalize($0.value)) }))
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: return .int(Int64(d))
        default: return value
        }
    }
}

extension Broker {
    /// Like `enqueue`, unless the same task with equal arguments was enqueued this way in the last
    /// `seconds` (whole seconds, rounded up): then publishes nothing and returns the first one's id.
    public func enqueue(_ message: TaskMessage, uniqueFor seconds: Double, now: Date = Date()) async throws -> String {
        let key = keys.unique(UniqueTask.key(task: message.task, args: message.args, kwargs: message.kwargs))
        return try await enqueue(message, claiming: key, as: message.id,
                                 claimSeconds: max(1, Int(min(seconds, TimeBounds.maxSecondsAhead).rounded(.up))), now: now)
    }
}
