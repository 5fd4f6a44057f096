import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// What `revoke` found.
    public enum RevokeOutcome: Sendable, Equatable {
        case revoked
        /// The task already finished with this state; nothing changed.
        case alreadyFinished(TaskState)
        /// No record and no result: the id was never submitted (or expired).
        case unknown
    }

    /// Revokes a task across all workers: queued or scheduled, it never runs; running, its worker
    /// cancels it as soon as it hears (the revoke channel; its heartbeat checks too). The REVOKED
    /// document is stored at once.
    /// `evenIfUnknown` revokes an id Redis knows nothing of yet (Celery's broadcast revoke: a Python
    /// producer's task has no Celeriac record until a worker takes it).
    public func revoke(_ id: String, evenIfUnknown: Bool = false, now: Date = Date()) async throws -> RevokeOutcome {
        if !evenIfUnknown {
            let known = try await redis.pipeline([["EXISTS", RedisArgument(keys.taskRecord(id))],
                                                  ["EXISTS", RedisArgument(KeySpace.resultKey(id))]])
            guard known.contains(where: { $0.integer == 1 }) else { return .unknown }
        }
        let document = ResultDocument.revoked(taskID: id, reason: "revoked", at: now)
        let reply = try await Revoke(revoked: keys.revoked, resultKey: KeySpace.resultKey(id), record: keys.taskRecord(id),
                                     taskID: id, now: now.timeIntervalSince1970, document: document.encoded(), ttl: resultExpires,
                                     channel: keys.revokeChannel, recordUpdate: .revoked(at: now), indexKeys: keys.indexKeys,
                                     index: index).run(on: redis)
        if reply.integer == 1 { return .revoked }
        return .alreadyFinished(reply.string.flatMap(TaskState.init(rawValue:)) ?? .success)
    }

    /// Which of `ids` are revoked.
    public func revokedAmong(_ ids: [String]) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let replies = try await redis.pipeline(ids.map { ["ZSCORE", RedisArgument(keys.revoked), RedisArgument($0)] })
        return Set(zip(ids, replies).filter { !$0.1.isNull }.map(\.0))
    }

    /// Forgets revocations older than the result lifetime.
    public func pruneRevoked(now: Date = Date()) async throws {
        try await redis.send(["ZREMRANGEBYSCORE", RedisArgument(keys.revoked), "-inf",
                              RedisArgument(now.timeIntervalSince1970 - Double(resultExpires))])
    }

    /// The most recently revoked ids, newest first (Celery's `inspect revoked`).
    public func revokedIDs(limit: Int = 10_000) async throws -> [String] {
        let reply = try await redis.send(["ZREVRANGE", RedisArgument(keys.revoked), "0", RedisArgument(limit - 1)])
        return (reply.array ?? []).compactMap(\.string)
    }
}
