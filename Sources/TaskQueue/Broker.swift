import Foundation
import RedisClient
import TaskProtocol

/// Broker operations on kombu's Redis layout: queues are lists (LPUSH in, pop from the right),
/// priorities are band lists, held messages sit in `unacked`/`unacked_index`.
public struct Broker: Sendable {
    public let redis: RedisClient
    public let keys: KeySpace
    /// Seconds a result document (and Celeriac's task record) lives; Celery's `result_expires`.
    public var resultExpires: Int

    public init(redis: RedisClient, keys: KeySpace = KeySpace(), resultExpires: Int = 86400) {
        self.redis = redis
        self.keys = keys
        self.resultExpires = resultExpires
    }

    /// The list a message goes to, from its queue and priority.
    public func listName(for message: TaskMessage) -> String {
        keys.bands.bands.listName(queue: message.queue, priority: message.priority)
    }

    /// Publishes a message and records it as PENDING, in one transaction. Returns once Redis has it.
    public func enqueue(_ message: TaskMessage, now: Date = Date()) async throws {
        let record = keys.taskRecord(message.id)
        _ = try await redis.transaction([
            ["LPUSH", RedisArgument(listName(for: message)), RedisArgument(message.encoded())],
            ["HSET", RedisArgument(record), "name", RedisArgument(message.task), "queue", RedisArgument(message.queue),
             "state", "PENDING", "submitted_at", RedisArgument(CeleryDate.format(now)),
             "retries", RedisArgument(message.retries)],
            ["EXPIRE", RedisArgument(record), RedisArgument(resultExpires)],
        ])
    }

    /// Like `enqueue`, once per idempotency key (kept as long as results): a repeated submission with
    /// the same key publishes nothing and returns the id of the first. Returns the id that counts.
    public func enqueue(_ message: TaskMessage, idempotencyKey: String, now: Date = Date()) async throws -> String {
        let reply = try await redis.evaluate(Scripts.enqueueOnce,
                                             keys: [RedisArgument(keys.idempotency(idempotencyKey)),
                                                    RedisArgument(listName(for: message)), RedisArgument(keys.taskRecord(message.id))],
                                             arguments: [RedisArgument(message.id), RedisArgument(message.encoded()),
                                                         RedisArgument(message.task), RedisArgument(message.queue),
                                                         RedisArgument(CeleryDate.format(now)), RedisArgument(message.retries),
                                                         RedisArgument(max(1, resultExpires))])
        guard let id = reply.string else { throw RedisError.server(command: "EVALSHA enqueue_once", message: "unexpected reply \(reply)") }
        return id
    }

    /// The lists a consumer of `queues` pops, every queue's bands in priority order.
    public func consumeLists(queues: [String]) -> [String] {
        queues.flatMap { keys.bands.bands.allLists(queue: $0) }
    }

    /// Records that this worker holds a popped message, as kombu does (`unacked` + `unacked_index`).
    /// `record` fields (and `state`) are set on the task record in the same transaction.
    public func hold(tag: String, envelope: [UInt8], queue: String, taskID: String? = nil, state: TaskState? = nil,
                     record: [(String, String)] = [], now: Date = Date()) async throws {
        var entry: [UInt8] = Array("[".utf8)
        entry += envelope
        entry += Array(", \"\", ".utf8)
        entry += JSONValue.string(queue).serializedBytes()
        entry += Array("]".utf8)
        var commands: [[RedisArgument]] = [
            ["ZADD", RedisArgument(KeySpace.unackedIndex), RedisArgument(now.timeIntervalSince1970), RedisArgument(tag)],
            ["HSET", RedisArgument(KeySpace.unacked), RedisArgument(tag), RedisArgument(entry)],
        ]
        if let taskID {
            let key = RedisArgument(keys.taskRecord(taskID))
            var hset: [RedisArgument] = ["HSET", key]
            if let state { hset += ["state", RedisArgument(state.rawValue)] }
            for (k, v) in record { hset += [RedisArgument(k), RedisArgument(v)] }
            if hset.count > 2 { commands.append(hset) }
            commands.append(["HINCRBY", key, "attempts", "1"])
            commands.append(["EXPIRE", key, RedisArgument(resultExpires)])
        }
        _ = try await redis.transaction(commands)
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

    /// A message taken by `fetch`: the list it came from, its exact bytes, and its delivery tag when
    /// it had one (a message without one is not held: it can only be dead-lettered).
    public struct Fetched: Sendable {
        public var list: String
        public var raw: [UInt8]
        public var tag: String?
        /// What the fetch wrote on the task record: nothing (eta/expires/revoked: decided by the worker),
        /// STARTED (a slot was free), or RECEIVED (prefetched).
        public var record: RecordMark = .untouched
        /// The message's `headers.id`, when it has one.
        public var taskID: String?

        public enum RecordMark: Int64, Sendable { case untouched = 0, started = 1, received = 2 }
        public var recordStarted: Bool { record == .started }
    }

    /// Reliable fetch: pops up to `count` messages, first lists first (priority order), and records
    /// each hold and this worker's lease in the same atomic step. Empty when every list is empty.
    public func fetch(lists: [String], leaseToken: String, count: Int = 1, startNow: Int? = nil, worker: String = "",
                      now: Date = Date()) async throws -> [Fetched] {
        let keys: [RedisArgument] = [RedisArgument(KeySpace.unacked), RedisArgument(KeySpace.unackedIndex),
                                     RedisArgument(self.keys.leases), RedisArgument(self.keys.revoked)]
            + lists.map { RedisArgument($0) }
        let reply = try await redis.evaluate(Scripts.fetch, keys: keys, arguments: [
            RedisArgument(now.timeIntervalSince1970), RedisArgument(leaseToken), RedisArgument(max(1, count)),
            RedisArgument(self.keys.prefix + "task:"), RedisArgument(worker), RedisArgument(CeleryDate.format(now)),
            RedisArgument(resultExpires), RedisArgument(startNow ?? count),
        ])
        let items = reply.array ?? []
        var out: [Fetched] = []
        var index = 0
        while index + 4 < items.count {
            if let list = items[index].string, let raw = items[index + 1].bytes {
                out.append(Fetched(list: list, raw: raw, tag: items[index + 2].string,
                                   record: Fetched.RecordMark(rawValue: items[index + 3].integer ?? 0) ?? .untouched,
                                   taskID: items[index + 4].string))
            }
            index += 5
        }
        return out
    }

    /// Marks prefetched tasks STARTED with their real start time — only those whose record still says
    /// RECEIVED, so a task that finished meanwhile keeps its final state.
    public func markStarted(_ tasks: [(id: String, at: Date)]) async throws {
        guard !tasks.isEmpty else { return }
        _ = try await redis.evaluate(Scripts.markStarted, keys: tasks.map { RedisArgument(keys.taskRecord($0.id)) },
                                     arguments: tasks.map { RedisArgument(CeleryDate.format($0.at)) })
    }

    /// Renews the hold on messages still being worked on (so a visibility sweep leaves them alone).
    public func renew(tags: [String], now: Date = Date()) async throws {
        guard !tags.isEmpty else { return }
        var command: [RedisArgument] = ["ZADD", RedisArgument(KeySpace.unackedIndex), "XX"]
        for tag in tags { command += [RedisArgument(now.timeIntervalSince1970), RedisArgument(tag)] }
        try await redis.send(command)
    }

    /// Hands a held message back to the front of its queue, marked redelivered (warm shutdown), if
    /// this holder (`leaseToken`) still holds it.
    @discardableResult
    public func restore(_ message: TaskMessage, leaseToken: String = "") async throws -> Bool {
        var copy = message
        copy.markRedelivered()
        let reply = try await redis.evaluate(Scripts.restore,
                                             keys: [RedisArgument(KeySpace.unacked), RedisArgument(KeySpace.unackedIndex),
                                                    RedisArgument(listName(for: copy)), RedisArgument(keys.leases)],
                                             arguments: [RedisArgument(message.deliveryTag), RedisArgument(copy.encoded()),
                                                         RedisArgument(leaseToken)])
        return reply.integer == 1
    }

    /// The visibility sweep: a Celeriac holder's message whose lease was not renewed for `lease`
    /// seconds goes back (or to the dead letters after `maxCrashes`); a Python holder's after
    /// kombu's `visibilityTimeout`. Returns how many messages it moved.
    public func restoreStale(lease: Double, visibilityTimeout: Double, maxCrashes: Int = 3, now: Date = Date(),
                             limit: Int = 100) async throws -> Int {
        let bands = keys.bands.bands
        let reply = try await redis.evaluate(Scripts.restoreStale,
                                             keys: [RedisArgument(KeySpace.unacked), RedisArgument(KeySpace.unackedIndex),
                                                    RedisArgument(keys.leases), RedisArgument(keys.crashes),
                                                    RedisArgument(keys.deadLetters)],
                                             arguments: [RedisArgument(now.timeIntervalSince1970), RedisArgument(lease),
                                                         RedisArgument(visibilityTimeout), RedisArgument(limit),
                                                         RedisArgument(bands.steps.map(String.init).joined(separator: ",")),
                                                         RedisArgument(bands.separator), RedisArgument(maxCrashes),
                                                         RedisArgument(CeleryDate.format(now)),
                                                         RedisArgument(keys.prefix + "task:")])
        return Int(reply.integer ?? 0)
    }

    /// A message as the scheduled set holds it: `list\nenvelope`, scored by its due time.
    public struct Scheduled: Sendable {
        public var member: [UInt8]
        public var due: Date
    }

    public func scheduled(_ message: TaskMessage, at due: Date) -> Scheduled {
        Scheduled(member: Array((listName(for: message) + "\n").utf8) + message.encoded(), due: due)
    }

    /// Puts a message in the scheduled set.
    public func schedule(_ message: TaskMessage, at due: Date) async throws {
        let entry = scheduled(message, at: due)
        try await redis.send(["ZADD", RedisArgument(keys.scheduled), RedisArgument(due.timeIntervalSince1970), RedisArgument(entry.member)])
    }

    /// Moves a held message (an ETA message received early) to the scheduled set and releases the
    /// hold, in one step fenced by the lease: false, and nothing done, when the lease passed on.
    public func schedule(_ message: TaskMessage, at due: Date, releasingHold tag: String, leaseToken: String) async throws -> Bool {
        let entry = scheduled(message, at: due)
        let reply = try await redis.evaluate(Scripts.scheduleHeld,
                                             keys: [RedisArgument(keys.scheduled), RedisArgument(KeySpace.unacked),
                                                    RedisArgument(KeySpace.unackedIndex), RedisArgument(keys.leases)],
                                             arguments: [RedisArgument(due.timeIntervalSince1970), RedisArgument(entry.member),
                                                         RedisArgument(tag), RedisArgument(leaseToken)])
        return reply.integer == 1
    }

    /// Moves every due scheduled message to its queue; safe to run from many workers at once.
    public func promoteDue(now: Date = Date(), limit: Int = 500) async throws -> Int {
        let reply = try await redis.evaluate(Scripts.promoteDue, keys: [RedisArgument(keys.scheduled)],
                                             arguments: [RedisArgument(now.timeIntervalSince1970), RedisArgument(limit)])
        return Int(reply.integer ?? 0)
    }

    /// The due time of the earliest scheduled message, if any.
    public func nextScheduled() async throws -> Date? {
        let reply = try await redis.send(["ZRANGE", RedisArgument(keys.scheduled), "0", "0", "WITHSCORES"])
        guard let items = reply.array, items.count == 2, let score = items[1].string.flatMap(Double.init) else { return nil }
        return Date(timeIntervalSince1970: score)
    }

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

    /// The dead-letter entries, newest first.
    public func deadLetters(limit: Int = 100) async throws -> [JSONValue] {
        let reply = try await redis.send(["LRANGE", RedisArgument(keys.deadLetters), "0", RedisArgument(limit - 1)])
        return (reply.array ?? []).compactMap { $0.bytes.flatMap { try? JSONValue.parse($0) } }
    }
}
