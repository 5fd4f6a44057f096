import Foundation
import RedisClient
import TaskProtocol

/// Celery's Redis result backend: `celery-task-meta-<id>` written with SETEX and PUBLISHed on the
/// channel of the same name in one step (a waiting Python `get()` only sees published results), never
/// overwriting a SUCCESS; Celeriac's task record is updated in the same script.
public struct ResultBackend: Sendable {
    let redis: RedisClient
    /// Every key name (the task records live under its prefix).
    public let keys: KeySpace
    /// Seconds a result document lives; Celery's `result_expires` (0: forever).
    public var resultExpires: Int
    /// Most tasks each history index set keeps (`TaskIndex`); default 1,000,000.
    public var indexCapacity = TaskIndex.defaultCapacity
    /// The history index's bounds: the records' lifetime and `indexCapacity`.
    public var index: TaskIndex { TaskIndex(lifetime: resultExpires, capacity: indexCapacity) }

    /// A backend on an existing client (tests share one client between several backends).
    public init(redis: RedisClient, keys: KeySpace = KeySpace(), resultExpires: Int = 86400) {
        self.redis = redis
        self.keys = keys
        self.resultExpires = resultExpires
    }

    /// The backend on the broker's own Redis, keys and result lifetime (Celeriac keeps both in one Redis).
    public init(sharing broker: Broker) {
        self.init(redis: broker.redis, keys: broker.keys, resultExpires: broker.resultExpires)
        indexCapacity = broker.indexCapacity
    }

    /// What `store` did.
    public enum StoreOutcome: Sendable, Equatable {
        /// The document (and record) were written, and the message acked if asked.
        case stored
        /// A SUCCESS was already stored: nothing written (the ack, if any, was done).
        case successAlreadyStored
        /// The lease on the message passed to another worker: nothing written, nothing acked.
        case leaseLost
        /// The task was revoked: its REVOKED document stays (the ack, if any, was done).
        case revoked

        /// The store scripts' reply code: 1 stored, 0 a SUCCESS already there, -1 lease lost, 2 revoked.
        init(code: Int64?) {
            switch code {
            case 1: self = .stored
            case -1: self = .leaseLost
            case 2: self = .revoked
            default: self = .successAlreadyStored
            }
        }
    }

    /// Stores `document` (unless a SUCCESS is already stored). `record` is the record's transition
    /// written at the same time (the record takes the document's state); `ackTag` acks that held
    /// message in the same atomic step, fenced by `leaseToken` when given; `schedule` (a retry's
    /// next attempt) is scheduled in that step too. `keepHold` checks the lease but leaves the
    /// message held (acked by a later `store`).
    @discardableResult
    public func store(_ document: ResultDocument, record: TaskRecord.Update? = nil, ackTag: String? = nil,
                      leaseToken: String? = nil, writeDocument: Bool = true,
                      schedule: Broker.Scheduled? = nil, keepHold: Bool = false) async throws -> StoreOutcome {
        var update = record ?? TaskRecord.Update([])
        update.state = document.status
        let now = Date()
        let reply = try await StoreResult(
            resultKey: KeySpace.resultKey(document.taskID), record: keys.taskRecord(document.taskID),
            unacked: KeySpace.unacked, unackedIndex: KeySpace.unackedIndex, leases: keys.leases, crashes: keys.crashes,
            revoked: keys.revoked, scheduled: keys.scheduled, document: writeDocument ? document.encoded() : [],
            ttl: resultExpires, state: document.status.rawValue, tag: ackTag ?? "", leaseToken: leaseToken ?? "",
            taskID: document.taskID, scheduledMember: schedule?.member ?? [],
            due: schedule?.due.timeIntervalSince1970 ?? 0, keepHold: keepHold, recordPairs: update.pairs,
            indexKeys: keys.indexKeys, throughput: keys.throughput(minute: TaskIndex.minute(now)), index: index, now: now)
            .run(on: redis)
        return StoreOutcome(code: reply.integer)
    }

    /// The stored result document, nil when there is none.
    public func get(_ id: String) async throws -> ResultDocument? {
        let reply = try await redis.send(["GET", RedisArgument(KeySpace.resultKey(id))])
        guard let bytes = reply.bytes else { return nil }
        return ResultDocument(bytes: bytes)
    }
}
