import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// Keeps a message that cannot be run in the dead-letter list, with the reason, and releases its hold.
    public func deadLetter(raw: [UInt8], error: MessageError, queue: String, tag: String?, worker: String,
                           now: Date = Date()) async throws {
        let entry: JSONValue = [
            "id": .string(TaskMessage.newID()),
            "task_id": error.taskID.map { .string($0) } ?? .null,
            "task": error.taskName.map { .string($0) } ?? .null,
            "queue": .string(queue),
            "field": .string(error.field),
            "reason": .string(error.reason),
            "worker": .string(worker),
            "at": .string(CeleryDate.format(now)),
            "message": .string(String(decoding: raw, as: UTF8.self)),
        ]
        var commands: [[RedisArgument]] = [["LPUSH", RedisArgument(keys.deadLetters), RedisArgument(entry.serializedBytes())]]
        if let tag {
            commands.append(["ZREM", RedisArgument(KeySpace.unackedIndex), RedisArgument(tag)])
            commands.append(["HDEL", RedisArgument(KeySpace.unacked), RedisArgument(tag)])
            commands.append(["HDEL", RedisArgument(keys.leases), RedisArgument(tag)])
        }
        _ = try await redis.transaction(commands)
    }

    /// Last resort when even the dead-letter list cannot take a message: puts its exact bytes back
    /// on `queue`, so it is not lost (best effort; errors are swallowed).
    public func pushBack(raw: [UInt8], queue: String) async {
        _ = try? await redis.send(["LPUSH", RedisArgument(queue), RedisArgument(raw)])
    }

    /// The dead-letter entries, newest first.
    public func deadLetters(limit: Int = 100) async throws -> [JSONValue] {
        let reply = try await redis.send(["LRANGE", RedisArgument(keys.deadLetters), "0", RedisArgument(limit - 1)])
        return (reply.array ?? []).compactMap { $0.bytes.flatMap { try? JSONValue.parse($0) } }
    }

    /// Moves a dead letter's message back to its queue (its priority band); false when no entry has
    /// that id. The entry is read first, then removed and pushed in one step (`RequeueDeadLetter`).
    public func requeueDeadLetter(_ entryID: String) async throws -> Bool {
        let entries = try await redis.send(["LRANGE", RedisArgument(keys.deadLetters), "0", "-1"]).array ?? []
        for raw in entries.compactMap(\.bytes) {
            guard let entry = (try? JSONValue.parse(raw))?.objectValue, entry["id"]?.stringValue == entryID,
                  let message = entry["message"]?.stringValue else { continue }
            let queue = entry["queue"]?.stringValue ?? "celery"
            let properties = (try? JSONValue.parse(Array(message.utf8)))?.objectValue?["properties"]?.objectValue
            let list = keys.bands.listName(queue: queue, priority: properties.map { Self.priority($0["priority"]) })
            let reply = try await RequeueDeadLetter(deadLetters: keys.deadLetters, list: list, entry: raw,
                                                    message: Array(message.utf8)).run(on: redis)
            return reply.integer == 1
        }
        return false
    }
}
