import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// The task record, nil when Celeriac never saw the id.
    public func record(_ id: String) async throws -> TaskRecord? {
        let fields = try await redis.send(["HGETALL", RedisArgument(keys.taskRecord(id))]).fields
        return fields.isEmpty ? nil : TaskRecord(fields: fields)
    }

    /// The task record and the result document, read together (one round trip); nil when neither exists.
    public func snapshot(_ id: String) async throws -> (record: TaskRecord, document: ResultDocument?)? {
        let replies = try await redis.pipeline([
            ["HGETALL", RedisArgument(keys.taskRecord(id))],
            ["GET", RedisArgument(KeySpace.resultKey(id))],
        ]).map { try $0.throwingError(command: "task snapshot") }
        let fields = replies[0].fields
        let document = replies[1].bytes.flatMap { ResultDocument(bytes: $0) }
        guard !fields.isEmpty || document != nil else { return nil }
        return (TaskRecord(fields: fields), document)
    }
}
