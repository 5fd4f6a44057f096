import Foundation
import RedisClient
import TaskProtocol

extension Broker {
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
