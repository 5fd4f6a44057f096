import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// A message taken by `fetch`: the list it came from, its exact bytes, and its delivery tag when
    /// it had one (a message without one is not held: it can only be dead-lettered).
    public struct Fetched: Sendable {
        /// The list it was popped from (a queue or one of its priority bands).
        public var list: String
        /// The envelope exactly as it was in the list.
        public var raw: [UInt8]
        /// Its delivery tag, under which it is held; nil when the envelope has none.
        public var tag: String?
        /// What the fetch wrote on the task record: nothing (eta/expires/revoked: decided by the worker),
        /// STARTED (a slot was free), or RECEIVED (prefetched).
        public var record: RecordMark = .untouched
        /// The message's `headers.id`, when it has one.
        public var taskID: String?

        /// What `fetch` wrote on a fetched message's task record.
        public enum RecordMark: Int64, Sendable { case untouched = 0, started = 1, received = 2 }
        /// True when the record already says STARTED.
        public var recordStarted: Bool { record == .started }
    }

    /// Reliable fetch: pops up to `count` messages, first lists first (priority order), and records
    /// each hold and this worker's lease in the same atomic step (`Fetch`). Then the records of those
    /// that will run are written in one more step (`UpdateRecords`): the first `startNow` STARTED,
    /// the rest RECEIVED. Empty when every list is empty.
    public func fetch(lists: [String], leaseToken: String, count: Int = 1, startNow: Int? = nil, worker: String = "",
                      now: Date = Date()) async throws -> [Fetched] {
        let reply = try await Fetch(unacked: KeySpace.unacked, unackedIndex: KeySpace.unackedIndex, leases: keys.leases,
                                    revoked: keys.revoked, lists: lists, now: now.timeIntervalSince1970,
                                    leaseToken: leaseToken, count: max(1, count)).run(on: redis)
        let items = reply.array ?? []
        var out: [Fetched] = []
        var marks: [UpdateRecords.Item] = []
        var index = 0
        while index + 7 < items.count {
            defer { index += 8 }
            guard let list = items[index].string, let raw = items[index + 1].bytes else { continue }
            var fetched = Fetched(list: list, raw: raw, tag: items[index + 2].string, taskID: items[index + 4].string)
            if items[index + 3].integer == 1, let id = fetched.taskID, let name = items[index + 5].string {
                // Position in the batch, as the consumer starts the first `startNow` at once and buffers the rest.
                let startsNow = out.count < (startNow ?? count)
                fetched.record = startsNow ? .started : .received
                let queue = items[index + 6].string ?? list
                marks.append(.init(id: id, record: keys.taskRecord(id), update: .received(
                    name: name, queue: queue, retries: Int(items[index + 7].integer ?? 0),
                    worker: worker, at: now, startedNow: startsNow), sets: indexSets(task: name, queue: queue),
                    workerSet: workerIndexSet(worker)))
            }
            out.append(fetched)
        }
        if !marks.isEmpty { _ = try await updateRecords(marks, ttl: resultExpires, now: now) }
        return out
    }

    /// Records that a holder has a message, as kombu does (`unacked` + `unacked_index`), with no lease:
    /// a Python worker's hold (tests, tools).
    public func hold(tag: String, envelope: [UInt8], queue: String, now: Date = Date()) async throws {
        let entry = Array("[".utf8) + envelope + Array(", \"\", ".utf8) + JSONValue.string(queue).serializedBytes() + Array("]".utf8)
        _ = try await redis.transaction([
            ["ZADD", RedisArgument(KeySpace.unackedIndex), RedisArgument(now.timeIntervalSince1970), RedisArgument(tag)],
            ["HSET", RedisArgument(KeySpace.unacked), RedisArgument(tag), RedisArgument(entry)],
        ])
    }

    /// Acknowledges a held message: it is done and must never come back.
    public func ack(tag: String) async throws {
        _ = try await redis.transaction([
            ["ZREM", RedisArgument(KeySpace.unackedIndex), RedisArgument(tag)],
            ["HDEL", RedisArgument(KeySpace.unacked), RedisArgument(tag)],
            ["HDEL", RedisArgument(keys.leases), RedisArgument(tag)],
            ["HDEL", RedisArgument(keys.crashes), RedisArgument(tag)],
        ])
    }

    /// Marks prefetched tasks STARTED with their real start time — only those whose record still says
    /// RECEIVED, so a task that finished meanwhile keeps its final state.
    public func markStarted(_ tasks: [(id: String, at: Date)]) async throws {
        guard !tasks.isEmpty else { return }
        let items = tasks.map { UpdateRecords.Item(id: $0.id, record: keys.taskRecord($0.id), update: .started(at: $0.at),
                                                   onlyIf: TaskState.received.rawValue) }
        _ = try await updateRecords(items, ttl: 0)
    }

    /// Writes the record of a task a worker starts when `fetch` did not (it had an eta or expiry).
    public func recordReceived(_ message: TaskMessage, queue: String, worker: String, at now: Date = Date()) async throws {
        let update = TaskRecord.Update.received(name: message.task, queue: queue, retries: message.retries, worker: worker,
                                                at: now, startedNow: true)
        _ = try await updateRecords([.init(id: message.id, record: keys.taskRecord(message.id), update: update,
                                           sets: indexSets(task: message.task, queue: queue), workerSet: workerIndexSet(worker))],
                                    ttl: resultExpires, now: now)
    }

    /// Renews the hold on messages still being worked on (so a visibility sweep leaves them alone).
    public func renew(tags: [String], now: Date = Date()) async throws {
        guard !tags.isEmpty else { return }
        var command: [RedisArgument] = ["ZADD", RedisArgument(KeySpace.unackedIndex), "XX"]
        for tag in tags { command += [RedisArgument(now.timeIntervalSince1970), RedisArgument(tag)] }
        try await redis.send(command)
    }

    /// Hands a held message back to the front of its queue, marked redelivered (warm shutdown), if
    /// this holder (`leaseToken`) still holds it. With `neverStarted`, its record goes back to
    /// PENDING and the attempt is not counted.
    @discardableResult
    public func restore(_ message: TaskMessage, leaseToken: String = "", neverStarted: Bool = false) async throws -> Bool {
        var copy = message
        copy.markRedelivered()
        let reply = try await Restore(unacked: KeySpace.unacked, unackedIndex: KeySpace.unackedIndex, list: listName(for: copy),
                                      leases: keys.leases, tag: message.deliveryTag, envelope: copy.encoded(),
                                      leaseToken: leaseToken).run(on: redis)
        if neverStarted {
            _ = try await updateRecords([.init(id: message.id, record: keys.taskRecord(message.id), update: .handedBack)],
                                        ttl: resultExpires)
        }
        return reply.integer == 1
    }

    /// Runs `UpdateRecords` with this broker's index.
    func updateRecords(_ items: [UpdateRecords.Item], ttl: Int, now: Date = Date()) async throws -> RESPValue {
        try await UpdateRecords(items: items, ttl: ttl, indexKeys: keys.indexKeys, index: index, now: now).run(on: redis)
    }

    /// The index sets a task joins when it enters the index (submitted, or first fetched).
    func indexSets(task: String, queue: String) -> [String] { [keys.taskNameIndex(task), keys.queueIndex(queue)] }

    /// The index set of the worker that fetched a task (none for a worker without a name).
    func workerIndexSet(_ worker: String) -> String? { worker.isEmpty ? nil : keys.workerIndex(worker) }
}
