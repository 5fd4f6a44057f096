import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// What a worker says about itself in each heartbeat (the API and `GET /workers` read it).
    public struct WorkerInfo: Sendable {
        /// Its registered task names (the API checks submitted names against them).
        public var tasks: [String]
        /// The queues it consumes.
        public var queues: [String]
        /// Tasks it runs at once.
        public var concurrency: Int
        /// Its process id.
        public var pid: Int
        /// Tasks running now.
        public var active: Int
        /// Tasks finished since it started.
        public var processed: Int

        /// A worker's self-description for one heartbeat.
        public init(tasks: [String], queues: [String], concurrency: Int, pid: Int, active: Int, processed: Int) {
            (self.tasks, self.queues, self.concurrency, self.pid, self.active, self.processed) =
                (tasks, queues, concurrency, pid, active, processed)
        }
    }

    /// Registers `node` as alive with `info`, for `ttl` seconds (renewed by the next heartbeat).
    public func heartbeat(node: String, info: WorkerInfo, ttl: Int, now: Date = Date()) async throws {
        let key = RedisArgument(keys.worker(node))
        let tasks = JSONValue.array(info.tasks.map { .string($0) }).serialized()
        let queues = JSONValue.array(info.queues.map { .string($0) }).serialized()
        for reply in try await redis.pipeline([
            ["ZADD", RedisArgument(keys.workers), RedisArgument(now.timeIntervalSince1970), RedisArgument(node)],
            ["HSET", key, "tasks", RedisArgument(tasks), "queues", RedisArgument(queues),
             "concurrency", RedisArgument(info.concurrency), "pid", RedisArgument(info.pid),
             "active", RedisArgument(info.active), "processed", RedisArgument(info.processed),
             "heartbeat", RedisArgument(CeleryDate.format(now))],
            ["EXPIRE", key, RedisArgument(max(1, ttl))],
        ]) { _ = try reply.throwingError(command: "heartbeat") }
    }

    /// Removes `node` from the live workers at once (a clean shutdown; a dead one just expires).
    public func deregister(node: String) async throws {
        _ = try await redis.pipeline([
            ["ZREM", RedisArgument(keys.workers), RedisArgument(node)],
            ["DEL", RedisArgument(keys.worker(node))],
        ])
    }

    /// Answers a Celery remote-control request on its reply list (`reply_to`'s pidbox list). The
    /// caller waits seconds at most: a reply nobody collects expires after 300 s.
    public func sendControlReply(_ reply: [UInt8], routingKey: String) async throws {
        let list = RedisArgument(CeleryControl.replyList(routingKey))
        _ = try await redis.pipeline([["LPUSH", list, RedisArgument(reply)], ["EXPIRE", list, "300"]])
    }

    /// Publishes a Celery monitoring event envelope on its channel (best effort, like Celery's).
    public func publishEvent(_ envelope: [UInt8], channel: String) async throws {
        try await redis.send(["PUBLISH", RedisArgument(channel), RedisArgument(envelope)])
    }

    /// Names of every task that a live worker (heartbeat within `maxAge` seconds) has registered.
    public func registeredTaskNames(maxAge: Double = 10, now: Date = Date()) async throws -> Set<String> {
        var tasks: Set<String> = []
        for (_, fields) in try await liveWorkers(maxAge: maxAge, now: now) {
            for item in fields["tasks"].flatMap({ try? JSONValue.parse($0) })?.arrayValue ?? [] {
                if let name = item.stringValue { tasks.insert(name) }
            }
        }
        return tasks
    }

    /// Every live worker (heartbeat within `maxAge` seconds) as it last described itself.
    public func liveWorkers(maxAge: Double = 10, now: Date = Date()) async throws -> [(name: String, fields: [String: String])] {
        let workers = try await redis.send(["ZRANGE", RedisArgument(keys.workers),
                                            RedisArgument(now.timeIntervalSince1970 - maxAge), "+inf", "BYSCORE"])
        let names = (workers.array ?? []).compactMap(\.string)
        guard !names.isEmpty else { return [] }
        let replies = try await redis.pipeline(names.map { ["HGETALL", RedisArgument(keys.worker($0))] })
        return zip(names, replies).compactMap { name, reply in
            let fields = reply.fields
            return fields.isEmpty ? nil : (name, fields)
        }
    }

    /// How much work waits where: each queue's messages (all priority bands), and the totals held by
    /// workers (`unacked`), scheduled for later, and dead-lettered.
    public func queueDepths(_ queues: [String]) async throws -> (queues: [(name: String, waiting: Int)], held: Int, scheduled: Int, deadLetters: Int) {
        let lists = queues.map { consumeLists(queues: [$0]) }
        var commands: [[RedisArgument]] = lists.flatMap { $0.map { ["LLEN", RedisArgument($0)] } }
        commands += [["HLEN", RedisArgument(KeySpace.unacked)], ["ZCARD", RedisArgument(keys.scheduled)],
                     ["LLEN", RedisArgument(keys.deadLetters)]]
        let replies = try await redis.pipeline(commands).map { Int($0.integer ?? 0) }
        var index = 0
        var depths: [(String, Int)] = []
        for (queue, bands) in zip(queues, lists) {
            depths.append((queue, replies[index..<index + bands.count].reduce(0, +)))
            index += bands.count
        }
        return (depths, replies[index], replies[index + 1], replies[index + 2])
    }
}
