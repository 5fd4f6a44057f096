import RedisClient
import TaskProtocol

/// Celeriac's record of a task (hash `celeriac:task:<id>`): what Celery's result document lacks —
/// name, queue, timestamps, attempts, worker — so `GET /tasks/<id>` can show the whole story.
public struct TaskRecord: Sendable, Equatable {
    public var fields: [String: String]

    public init(fields: [String: String]) { self.fields = fields }

    public var name: String? { fields["name"] }
    public var state: TaskState? { fields["state"].flatMap(TaskState.init(rawValue:)) }
    public var queue: String? { fields["queue"] }
    public var worker: String? { fields["worker"] }
    public var retries: Int { Int(fields["retries"] ?? "") ?? 0 }
    public var attempts: Int { Int(fields["attempts"] ?? "") ?? 0 }
}

extension Broker {
    /// The task record, nil when Celeriac never saw the id.
    public func record(_ id: String) async throws -> TaskRecord? {
        let fields = try await redis.send(["HGETALL", RedisArgument(keys.taskRecord(id))]).fields
        return fields.isEmpty ? nil : TaskRecord(fields: fields)
    }

    /// Sets record fields (and the state) without touching the result document.
    public func updateRecord(_ id: String, state: TaskState?, fields: [(String, String)],
                             attemptsDelta: Int = 0) async throws {
        let key = RedisArgument(keys.taskRecord(id))
        var hset: [RedisArgument] = ["HSET", key]
        if let state { hset += ["state", RedisArgument(state.rawValue)] }
        for (k, v) in fields { hset += [RedisArgument(k), RedisArgument(v)] }
        var commands: [[RedisArgument]] = []
        if hset.count > 2 { commands.append(hset) }
        if attemptsDelta != 0 { commands.append(["HINCRBY", key, "attempts", RedisArgument(attemptsDelta)]) }
        commands.append(["EXPIRE", key, RedisArgument(resultExpires)])
        for reply in try await redis.pipeline(commands) { try reply.throwingError(command: "HSET task record") }
    }
}
