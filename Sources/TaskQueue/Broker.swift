import Foundation
import RedisClient
import TaskProtocol

/// Broker operations on kombu's Redis layout: queues are lists (LPUSH in, pop from the right),
/// priorities are band lists, held messages sit in `unacked`/`unacked_index`.
///
/// The one door to Redis: Worker, TaskAPI and the app call its named operations and never send a
/// raw command (its connection is internal to TaskQueue).
///
/// ```swift
/// let broker = try Broker(url: "redis://127.0.0.1:6379/0")
/// try await broker.enqueue(TaskMessage.make(task: "myapp.add", args: [2, 3], kwargs: [:]))
/// ```
public struct Broker: Sendable {
    let redis: RedisClient
    /// Concurrent `enqueue` calls share script calls (copies of this broker share it).
    let batcher: EnqueueBatcher
    /// Every key name, under this deployment's prefix and priority bands.
    public let keys: KeySpace
    /// Seconds a result document (and Celeriac's task record) lives; Celery's `result_expires`.
    public var resultExpires: Int
    /// Due times of messages scheduled through this broker (and its copies), for the promoters.
    public let scheduleNotices = ScheduleNotices()
    /// The index set names of the last task published (`indexSets`).
    let indexSetCache = IndexSetCache()
    /// Most tasks each history index set keeps (`TaskIndex`); default 1,000,000.
    public var indexCapacity = TaskIndex.defaultCapacity
    /// The history index's bounds: the records' lifetime and `indexCapacity`.
    public var index: TaskIndex { TaskIndex(lifetime: resultExpires, capacity: indexCapacity) }

    /// A broker on an existing client (tests share one client between several brokers).
    public init(redis: RedisClient, keys: KeySpace = KeySpace(), resultExpires: Int = 86400) {
        self.redis = redis
        batcher = EnqueueBatcher(redis: redis)
        self.keys = keys
        self.resultExpires = resultExpires
    }

    /// A broker on its own client for `url` (`redis://[[user]:password@]host[:port][/db]` or `unix:///path`).
    public init(url: String, keys: KeySpace = KeySpace(), resultExpires: Int = 86400) throws {
        self.init(redis: RedisClient(configuration: try RedisConfiguration(url: url)), keys: keys, resultExpires: resultExpires)
    }

    /// Throws a sentence naming what is wrong with a Redis URL (validated at start-up).
    public static func validate(url: String) throws { _ = try RedisConfiguration(url: url) }

    /// The server, for logs and banners (the password masked).
    public var serverDescription: String { redis.configuration.description }
    /// The server's address (`host:port` or the socket path), as Celery's `stats` reports it.
    public var serverAddress: String { redis.configuration.address.description }
    /// The Redis database number: part of Celery's pub/sub channel names.
    public var database: Int { redis.configuration.database }

    /// Succeeds when Redis answers (readiness checks, start-up).
    public func ping() async throws { try await redis.send(["PING"]) }

    /// Closes the shared connection (callers in flight get an error).
    public func close() { redis.close() }

    /// The event loop where this broker's replies arrive (nil while Redis is unreachable): an idle
    /// consumer that prefers it goes from a watcher's wake-up to its fetch and on to the task's start
    /// with no hop to the thread pool and back.
    public func executor() async -> (any TaskExecutor)? { await redis.executor() }

    /// The list a message goes to, from its queue and priority.
    public func listName(for message: TaskMessage) -> String {
        keys.bands.listName(queue: message.queue, priority: message.priority)
    }

    /// The lists a consumer of `queues` pops, every queue's bands in priority order.
    public func consumeLists(queues: [String]) -> [String] {
        queues.flatMap { keys.bands.allLists(queue: $0) }
    }

    /// Publishes a message and records it as PENDING (and in the history index), in one step.
    /// Returns once Redis has it. Concurrent calls share script calls (`EnqueueBatcher`).
    public func enqueue(_ message: TaskMessage, now: Date = Date()) async throws {
        try await enqueue(TaskMessage.Encoded(message), now: now)
    }

    /// The same for a message built encoded only (`TaskMessage.encode`, the API's submit path).
    public nonisolated(nonsending) func enqueue(_ message: TaskMessage.Encoded, now: Date = Date()) async throws {
        try await batcher.enqueue(enqueueEntry(message, now: now), shape: enqueueShape)
    }

    /// A message as the `Enqueue` script publishes it.
    func enqueueEntry(_ message: TaskMessage, now: Date) -> Enqueue.Entry {
        enqueueEntry(TaskMessage.Encoded(message), now: now)
    }

    /// The same for a message built encoded only.
    func enqueueEntry(_ message: TaskMessage.Encoded, now: Date) -> Enqueue.Entry {
        Enqueue.Entry(list: keys.bands.listName(queue: message.queue, priority: message.priority),
                      record: keys.taskRecord(message.id), sets: indexSets(task: message.task, queue: message.queue),
                      taskID: message.id, envelope: message.envelope,
                      recordPairs: TaskRecord.Update.submitted(message, stamp: CeleryDate.format(now)).pairs, now: now)
    }

    /// This broker's keys and bounds, which the messages of one `Enqueue` call share.
    var enqueueShape: EnqueueBatcher.Shape {
        EnqueueBatcher.Shape(indexKeys: keys.indexKeys, recordTTL: resultExpires, index: index)
    }

    /// Like `enqueue`, once per idempotency key (kept as long as results): a repeated submission with
    /// the same key publishes nothing and returns the id of the first. Returns the id that counts.
    public func enqueue(_ message: TaskMessage, idempotencyKey: String, now: Date = Date()) async throws -> String {
        try await enqueue(message, claiming: keys.idempotency(idempotencyKey), as: message.id,
                          claimSeconds: max(1, resultExpires), now: now)
    }

    /// Publishes a message (PENDING) only if `claim` is free, storing `value` under it — with an app's
    /// own hash (`hash`, `fields`) written in the same step. Returns the value under the claim: `value`
    /// when this call published, the first claimer's otherwise. `claimSeconds` 0 keeps the claim.
    public func enqueue(_ message: TaskMessage, claiming claim: String, as value: String, claimSeconds: Int = 0,
                        writing hash: (key: String, fields: [(String, String)])? = nil, now: Date = Date()) async throws -> String {
        let reply = try await EnqueueOnce(claim: claim, list: listName(for: message), record: keys.taskRecord(message.id),
                                          hash: hash?.key, claimValue: value, claimTTL: claimSeconds,
                                          envelope: message.encoded(), recordTTL: max(1, resultExpires),
                                          recordPairs: TaskRecord.Update.submitted(message, at: now).pairs,
                                          hashPairs: hash?.fields ?? [], taskID: message.id,
                                          sets: indexSets(task: message.task, queue: message.queue),
                                          indexKeys: keys.indexKeys, index: index, now: now).run(on: redis)
        guard let id = reply.string else { throw TaskQueueError.unexpectedReply(operation: "enqueue_once", reply: "\(reply)") }
        return id
    }
}
