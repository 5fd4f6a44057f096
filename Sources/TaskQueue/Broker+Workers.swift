import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// Names of every task that a live worker (heartbeat within `maxAge` seconds) has registered.
    public func registeredTaskNames(maxAge: Double = 10, now: Date = Date()) async throws -> Set<String> {
        let workers = try await redis.send(["ZRANGE", RedisArgument(keys.workers),
                                            RedisArgument(now.timeIntervalSince1970 - maxAge), "+inf", "BYSCORE"])
        let names = (workers.array ?? []).compactMap(\.string)
        guard !names.isEmpty else { return [] }
        let replies = try await redis.pipeline(names.map { ["HGET", RedisArgument(keys.worker($0)), "tasks"] })
        var tasks: Set<String> = []
        for reply in replies {
            guard let bytes = reply.bytes, let list = (try? JSONValue.parse(bytes))?.arrayValue else { continue }
            for item in list { if let s = item.stringValue { tasks.insert(s) } }
        }
        return tasks
    }
}
