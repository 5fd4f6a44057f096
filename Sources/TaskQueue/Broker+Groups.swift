import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// A group (or, with a callback, a chord) to publish in one step.
    public struct Group: Sendable {
        /// The group id (Celery's `group_id` header of every member).
        public var id: String
        /// The members, each carrying `group_id`, `group_index` and, in a chord, the callback in `embed.chord`.
        public var members: [TaskMessage.Encoded]
        /// A chord's callback as the worker completing the chord will send it (its PENDING record is written now).
        public var callback: TaskMessage?

        /// A group of `members`; with a `callback`, a chord.
        public init(id: String, members: [TaskMessage], callback: TaskMessage? = nil) {
            self.init(id: id, encoded: members.map(TaskMessage.Encoded.init), callback: callback)
        }

        /// The same with members built by `TaskMessage.encode` (a big group: no whole message per member).
        public init(id: String, encoded members: [TaskMessage.Encoded], callback: TaskMessage? = nil) {
            self.id = id
            self.members = members
            self.callback = callback
        }
    }

    /// A group as stored: Celery's saved `GroupResult` and, when it came over HTTP, Celeriac's hash.
    public struct StoredGroup: Sendable {
        /// The members, in order.
        public var saved: SavedGroup
        /// The chord callback's id, nil for a plain group (or a group Python saved).
        public var callbackID: String?
        /// The callback's task name.
        public var callbackTask: String?
    }

    /// What a task is now, as a group's view shows each member.
    public struct TaskStatus: Sendable {
        /// The record's state (nil when Celeriac has no record: a Python producer's task).
        public var recordState: TaskState?
        /// Celery's result document, when one is stored.
        public var document: ResultDocument?
        /// The state to show: a ready document wins, then the record, then PENDING.
        public var state: TaskState {
            if let document, document.status.isReady || recordState == nil || recordState == .pending { return document.status }
            return recordState ?? .pending
        }
    }

    /// Publishes every member of `group`, Celery's saved `GroupResult` and Celeriac's group hash, and for
    /// a chord its size (`.s`, as Celery's client sets it first) — all in one script: all or nothing.
    /// With `idempotencyKey`, a repeat publishes nothing. Returns the group id that counts.
    public func publish(_ group: Group, idempotencyKey: String? = nil, now: Date = Date()) async throws -> String {
        var hash: [(String, String)] = [("size", String(group.members.count)), ("submitted_at", CeleryDate.format(now))]
        if let callback = group.callback { hash += [("callback", callback.id), ("callback_task", callback.task)] }
        let (lists, pushed, records) = pushed(group.members, stamp: CeleryDate.format(now))
        let (table, rest) = RecordTable.split(records)
        let callback = group.callback.map { [(keys.taskRecord($0.id), TaskRecord.Update.submitted($0, at: now).pairs)] } ?? []
        let call = PublishBatch(
            claim: idempotencyKey.map(keys.groupIdempotency), groupMeta: KeySpace.groupKey(group.id), groupHash: keys.group(group.id),
            chord: group.callback == nil ? nil : (KeySpace.groupKey(group.id, ".s"), KeySpace.groupKey(group.id, ".c")),
            claimValue: group.id, claimTTL: max(1, resultExpires),
            groupDocument: SavedGroup(id: group.id, memberIDs: group.members.map(\.id)).encoded(),
            groupHashPairs: hash, chordSize: group.members.count, ttl: max(1, resultExpires), lists: lists, pushed: pushed,
            records: table, pendingRecords: rest + callback)
        return try await run(call)
    }

    /// Publishes a chain's first task (its `embed.chain` carries the rest) and writes PENDING records for
    /// the steps a worker will send later, in one script, so every id answers `GET /tasks/{id}` at once.
    /// With `idempotencyKey`, a repeat publishes nothing. Returns the ids that count, in chain order.
    public func publishChain(first: TaskMessage, later: [TaskMessage], idempotencyKey: String? = nil,
                             now: Date = Date()) async throws -> [String] {
        let ids = [first.id] + later.map(\.id)
        let call = PublishBatch(
            claim: idempotencyKey.map(keys.chainIdempotency), claimValue: ids.joined(separator: " "), claimTTL: max(1, resultExpires),
            ttl: max(1, resultExpires), lists: [listName(for: first)],
            pushed: [PublishBatch.Pushed(list: 0, envelope: first.encoded())],
            records: RecordTable.split([(keys.taskRecord(first.id), TaskRecord.Update.submitted(first, at: now).pairs)]).table,
            pendingRecords: later.map { (keys.taskRecord($0.id), TaskRecord.Update.submitted($0, at: now).pairs) })
        return try await run(call).split(separator: " ").map(String.init)
    }

    /// The distinct lists, each message's envelope and its PENDING record.
    private func pushed(_ messages: [TaskMessage.Encoded], stamp: String)
        -> (lists: [String], pushed: [PublishBatch.Pushed], records: [(key: String, pairs: [(TaskRecord.Field, String)])]) {
        var lists: [String] = [], index: [String: Int] = [:]
        var pushed: [PublishBatch.Pushed] = [], records: [(key: String, pairs: [(TaskRecord.Field, String)])] = []
        pushed.reserveCapacity(messages.count)
        records.reserveCapacity(messages.count)
        for message in messages {
            let name = keys.bands.listName(queue: message.queue, priority: message.priority)
            let list: Int
            if let known = index[name] { list = known } else {
                lists.append(name)
                list = lists.count - 1
                index[name] = list
            }
            pushed.append(PublishBatch.Pushed(list: list, envelope: message.envelope))
            records.append((key: keys.taskRecord(message.id), pairs: TaskRecord.Update.submitted(message, stamp: stamp).pairs))
        }
        return (lists, pushed, records)
    }

    private func run(_ call: PublishBatch) async throws -> String {
        let reply = try await call.run(on: redis)
        guard let value = reply.string else { throw TaskQueueError.unexpectedReply(operation: "publish_batch", reply: "\(reply)") }
        return value
    }

    /// The group saved under `id` (by this API or by Python's `GroupResult.save()`), nil when none is.
    public func group(_ id: String) async throws -> StoredGroup? {
        let replies = try await redis.pipeline([["GET", RedisArgument(KeySpace.groupKey(id))],
                                                ["HGETALL", RedisArgument(keys.group(id))]])
            .map { try $0.throwingError(command: "group") }
        guard let bytes = replies[0].bytes, let saved = SavedGroup(bytes: bytes) else { return nil }
        let fields = replies[1].fields
        return StoredGroup(saved: saved, callbackID: fields["callback"], callbackTask: fields["callback_task"])
    }

    /// Each task's record state and result document, in one round trip; nil for an id Redis knows nothing of.
    public func statuses(_ ids: [String]) async throws -> [TaskStatus?] {
        guard !ids.isEmpty else { return [] }
        var commands: [[RedisArgument]] = []
        commands.reserveCapacity(ids.count * 2)
        for id in ids {
            commands.append(["HGET", RedisArgument(keys.taskRecord(id)), RedisArgument(TaskRecord.Field.state.rawValue)])
            commands.append(["GET", RedisArgument(KeySpace.resultKey(id))])
        }
        let replies = try await redis.pipeline(commands)
        return try ids.indices.map { i in
            let state = try replies[2 * i].throwingError(command: "HGET").string
            let document = try replies[2 * i + 1].throwingError(command: "GET").bytes.flatMap { ResultDocument(bytes: $0) }
            guard state != nil || document != nil else { return nil }
            return TaskStatus(recordState: state.flatMap(TaskState.init(rawValue:)), document: document)
        }
    }
}
