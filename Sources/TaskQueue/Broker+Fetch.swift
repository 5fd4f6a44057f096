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
        /// The message as the fetch decoded it (nil when Lua did: the worker decodes `raw` itself).
        public var message: TaskMessage?

        /// What `fetch` wrote on a fetched message's task record.
        public enum RecordMark: Int64, Sendable { case untouched = 0, started = 1, received = 2 }
        /// True when the record already says STARTED.
        public var recordStarted: Bool { record == .started }
    }

    /// The messages at the tails of a consumer's lists, in the order a fetch takes them (each with
    /// the index of its list): a hint, as they may be gone by the next fetch, which checks each.
    public struct Tails: Sendable {
        var items: [(list: Int, raw: [UInt8])]

        init(items: [(list: Int, raw: [UInt8])]) { self.items = items }

        /// The message a watcher saw at the tail of the consumer's first list (`ListWatcher.waitForTail`).
        public init(firstList raw: [UInt8]) { items = [(0, raw)] }

        /// `FetchPeeked`'s flat {list index (1-based), message, …} reply.
        init(reply: RESPValue, lists: Int) {
            let flat = reply.array ?? []
            items = stride(from: 0, to: flat.count - 1, by: 2).compactMap { i in
                guard let list = flat[i].integer, list >= 1, list <= lists, let raw = flat[i + 1].bytes else { return nil }
                return (Int(list) - 1, raw)
            }
        }
    }

    /// Reliable fetch: takes up to `count` messages, first lists first (priority order), each popped
    /// with its hold and this worker's lease in one atomic step. The records of those that will run
    /// are written in that same step: the first `startNow` STARTED, the rest RECEIVED. Empty when
    /// every list is empty. (`fetch(…, tails:)` is the same, one round trip per batch.)
    public func fetch(lists: [String], leaseToken: String, count: Int = 1, startNow: Int? = nil, worker: String = "",
                      now: Date = Date()) async throws -> [Fetched] {
        try await fetch(lists: lists, leaseToken: leaseToken, count: count, startNow: startNow, worker: worker,
                        tails: nil, now: now).fetched
    }

    /// The fetch a consumer repeats: it starts from `tails` — what the previous fetch saw behind the
    /// messages it took, or what a watcher saw — and returns, with what it took, the tails behind
    /// those, for the next call. So a backlog drains at one round trip per batch, a wake-up is one
    /// round trip from its task's start, and only a consumer without tails reads the lists first.
    ///
    /// Each message is decoded here, so the record keys are passed by name and Lua decodes no JSON
    /// (`FetchPeeked`, which checks each popped message byte for byte against the one expected). A
    /// message that cannot be decoded, or tails other consumers took meanwhile (twice in a row),
    /// fall back to `Fetch` (decoded in Lua, records written right after), which holds any message
    /// that has a tag, by kombu's rules.
    public func fetch(lists: [String], leaseToken: String, count: Int, startNow: Int?, worker: String, tails: Tails?,
                      now: Date = Date()) async throws -> (fetched: [Fetched], tails: Tails?) {
        let count = max(1, count)
        var peeked = tails?.items ?? []
        if peeked.isEmpty {
            let replies = try await redis.pipeline(lists.map { ["LRANGE", RedisArgument($0), RedisArgument(-count), "-1"] })
            for (index, reply) in replies.enumerated() where peeked.count < count {
                for item in (try reply.throwingError(command: "LRANGE").array ?? []).reversed() where peeked.count < count {
                    if let raw = item.bytes { peeked.append((index, raw)) }
                }
            }
            if peeked.isEmpty { return ([], nil) }
        }
        for _ in 0..<2 {
            let (expected, messages) = expectations(peeked.prefix(count), startNow: startNow ?? count, worker: worker, now: now)
            guard !expected.isEmpty else { break }
            let reply = try await FetchPeeked(unacked: KeySpace.unacked, unackedIndex: KeySpace.unackedIndex,
                                              leases: keys.leases, revoked: keys.revoked, lists: lists,
                                              now: now.timeIntervalSince1970, leaseToken: leaseToken, ttl: resultExpires,
                                              peekNext: count, expected: expected, workerSet: workerIndexSet(worker),
                                              indexKeys: keys.indexKeys, index: index).run(on: redis)
            let parts = reply.array ?? []
            let runs = parts.first?.array ?? []
            let next = parts.count > 1 ? Tails(reply: parts[1], lists: lists.count) : Tails(items: [])
            peeked = next.items
            // The tails were taken by another consumer: try the fresh ones, if any.
            guard !runs.isEmpty else { if peeked.isEmpty { return ([], nil) } else { continue } }
            let fetched = zip(expected, messages).prefix(runs.count).enumerated().map { index, pair in
                let (e, message) = pair
                var fetched = Fetched(list: lists[e.list], raw: e.raw, tag: e.tag, taskID: e.taskID, message: message)
                if runs[index].integer == 1 { fetched.record = index < (startNow ?? count) ? .started : .received }
                return fetched
            }
            return (fetched, next.items.isEmpty ? nil : next)
        }
        let fetched = try await fetchDecodingInRedis(lists: lists, leaseToken: leaseToken, count: count, startNow: startNow,
                                                     worker: worker, now: now)
        return (fetched, nil)
    }

    /// What `FetchPeeked` expects of each peeked message, up to the first one that cannot be decoded.
    private func expectations(_ peeked: ArraySlice<(list: Int, raw: [UInt8])>, startNow: Int, worker: String,
                              now: Date) -> ([FetchPeeked.Expected], [TaskMessage]) {
        let stamp = CeleryDate.format(now)
        var expected: [FetchPeeked.Expected] = []
        var messages: [TaskMessage] = []
        for (list, raw) in peeked {
            // A message the worker cannot decode ends the batch: `Fetch` takes it, by kombu's rules.
            guard let message = try? TaskMessage.decode(raw) else { break }
            let mayRun = (message.headers["eta"] ?? .null) == .null && (message.headers["expires"] ?? .null) == .null
            let update = TaskRecord.Update.received(name: message.task, queue: message.queue, retries: message.retries,
                                                    worker: worker, stamp: stamp, startedNow: expected.count < startNow)
            expected.append(.init(list: list, raw: raw, tag: message.deliveryTag,
                                  queueJSON: JSONValue.string(message.queue).serializedBytes(), taskID: message.id,
                                  record: keys.taskRecord(message.id), mayRun: mayRun, recordPairs: update.pairs,
                                  sets: indexSets(task: message.task, queue: message.queue)))
            messages.append(message)
        }
        return (expected, messages)
    }

    /// The fetch for what the worker could not decode (and after a lost race): pop and hold in one
    /// step (`Fetch`, which decodes in Lua), then the records of those that will run (`UpdateRecords`).
    func fetchDecodingInRedis(lists: [String], leaseToken: String, count: Int, startNow: Int?, worker: String,
                              now: Date) async throws -> [Fetched] {
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
    func indexSets(task: String, queue: String) -> [String] {
        indexSetCache.sets(task: task, queue: queue) { [keys.taskNameIndex($0), keys.queueIndex($1)] }
    }

    /// The index set of the worker that fetched a task (none for a worker without a name).
    func workerIndexSet(_ worker: String) -> String? { worker.isEmpty ? nil : keys.workerIndex(worker) }
}
