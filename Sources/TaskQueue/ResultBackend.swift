import Foundation
import RedisClient
import TaskProtocol

/// Celery's Redis result backend: `celery-task-meta-<id>` written with SETEX and PUBLISHed on the
/// channel of the same name in one step (a waiting Python `get()` only sees published results), never
/// overwriting a SUCCESS; Celeriac's task record is updated in the same script.
public struct ResultBackend: Sendable {
    public let redis: RedisClient
    public let keys: KeySpace
    public var resultExpires: Int

    public init(redis: RedisClient, keys: KeySpace = KeySpace(), resultExpires: Int = 86400) {
        self.redis = redis
        self.keys = keys
        self.resultExpires = resultExpires
    }

    /// What `store` did.
    public enum StoreOutcome: Sendable, Equatable {
        case stored
        /// A SUCCESS was already stored: nothing written (the ack, if any, was done).
        case successAlreadyStored
        /// The lease on the message passed to another worker: nothing written, nothing acked.
        case leaseLost
        /// The task was revoked: its REVOKED document stays (the ack, if any, was done).
        case revoked
    }

    /// Stores `document` (unless a SUCCESS is already stored). `record` holds extra task-record fields
    /// to set at the same time; `ackTag` acks that held message in the same atomic step, fenced by
    /// `leaseToken` when given; `schedule` (a retry's next attempt) is scheduled in that step too.
    /// `keepHold` checks the lease but leaves the message held (acked by a later `store`).
    @discardableResult
    public func store(_ document: ResultDocument, record: [(String, String)] = [], ackTag: String? = nil,
                      leaseToken: String? = nil, writeDocument: Bool = true,
                      schedule: Broker.Scheduled? = nil, keepHold: Bool = false) async throws -> StoreOutcome {
        var arguments: [RedisArgument] = [RedisArgument(writeDocument ? document.encoded() : []), RedisArgument(resultExpires),
                                          RedisArgument(document.status.rawValue), RedisArgument(ackTag ?? ""),
                                          RedisArgument(leaseToken ?? ""), RedisArgument(document.taskID),
                                          RedisArgument(schedule?.member ?? []),
                                          RedisArgument(schedule?.due.timeIntervalSince1970 ?? 0),
                                          RedisArgument(keepHold ? "1" : "")]
        for (field, value) in record { arguments += [RedisArgument(field), RedisArgument(value)] }
        let reply = try await redis.evaluate(Scripts.storeResult,
                                             keys: [RedisArgument(KeySpace.resultKey(document.taskID)),
                                                    RedisArgument(keys.taskRecord(document.taskID)),
                                                    RedisArgument(KeySpace.unacked), RedisArgument(KeySpace.unackedIndex),
                                                    RedisArgument(keys.leases), RedisArgument(keys.crashes),
                                                    RedisArgument(keys.revoked), RedisArgument(keys.scheduled)],
                                             arguments: arguments)
        switch reply.integer {
        case 1: return .stored
        case -1: return .leaseLost
        case 2: return .revoked
        default: return .successAlreadyStored
        }
    }

    /// The stored result document, nil when there is none.
    public func get(_ id: String) async throws -> ResultDocument? {
        let reply = try await redis.send(["GET", RedisArgument(KeySpace.resultKey(id))])
        guard let bytes = reply.bytes else { return nil }
        return ResultDocument(bytes: bytes)
    }
}
