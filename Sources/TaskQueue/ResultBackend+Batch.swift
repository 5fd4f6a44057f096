import Foundation
import RedisClient
import TaskProtocol

extension ResultBackend {
    /// One task's plain completion — its document, record transition and ack — as `store` takes them,
    /// for `store(batch:)`. No retry to schedule and no hold kept: those go through `store` alone.
    public struct Completion: Sendable {
        /// The result document (stored unless a SUCCESS is already there).
        public var document: ResultDocument
        /// The record's transition written with it (the record takes the document's state).
        public var record: TaskRecord.Update?
        /// The held message acked in the same step, or nil.
        public var ackTag: String?
        /// The holder's lease token fencing the ack and every write, or nil for none.
        public var leaseToken: String?
        /// False for ignore_result: no document, but the record and the fenced ack still happen.
        public var writeDocument: Bool

        /// A completion as `store(_:record:ackTag:leaseToken:writeDocument:)` would write it.
        public init(_ document: ResultDocument, record: TaskRecord.Update? = nil, ackTag: String? = nil,
                    leaseToken: String? = nil, writeDocument: Bool = true) {
            self.document = document
            self.record = record
            self.ackTag = ackTag
            self.leaseToken = leaseToken
            self.writeDocument = writeDocument
        }
    }

    /// Stores several completions in one script call, each exactly as `store` would, each fenced,
    /// checked and answered on its own: one member's lost lease, revoke or wrong-typed key changes
    /// nothing for the others. Returns one outcome per completion, in order; a member whose key has
    /// the wrong type gets that `RedisError.server` (and nothing of it is written). Throws — with
    /// nothing written for anyone — when Redis is unreachable or a shared key has the wrong type.
    public func store(batch: [Completion]) async throws -> [Result<StoreOutcome, any Error>] {
        guard !batch.isEmpty else { return [] }
        let now = Date()
        let members = batch.map { completion -> StoreResults.Member in
            let document = completion.document
            var update = completion.record ?? TaskRecord.Update([])
            update.state = document.status
            return StoreResults.Member(
                resultKey: KeySpace.resultKey(document.taskID), record: keys.taskRecord(document.taskID),
                document: completion.writeDocument ? document.encoded() : [], state: document.status.rawValue,
                tag: completion.ackTag ?? "", leaseToken: completion.leaseToken ?? "", taskID: document.taskID,
                recordPairs: update.pairs)
        }
        let call = StoreResults(unacked: KeySpace.unacked, unackedIndex: KeySpace.unackedIndex, leases: keys.leases,
                                crashes: keys.crashes, revoked: keys.revoked, ttl: resultExpires, members: members,
                                indexKeys: keys.indexKeys, throughput: keys.throughput(minute: TaskIndex.minute(now)),
                                index: index, now: now)
        let reply = try await call.run(on: redis)
        guard let replies = reply.array, replies.count == batch.count else {
            throw TaskQueueError.unexpectedReply(operation: "storing \(batch.count) results", reply: "\(reply)")
        }
        return replies.map { member in
            if case .error(let message) = member {
                return .failure(RedisError.server(command: "EVALSHA(\(StoreResults.script.name))", message: message))
            }
            return .success(StoreOutcome(code: member.integer))
        }
    }
}
