import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// Reserves the next start of `task` under its global `limit` (shared by every worker through one
    /// script) and returns the seconds until it: 0 means start now; otherwise the caller must park the
    /// task (in the scheduled set, not in memory) until then and start it without asking again.
    public func reserveRateSlot(task: String, limit: RateLimit, burst: Int = 1) async throws -> Double {
        let reply = try await ReserveRateSlot(bucket: keys.rateBucket(task), intervalMilliseconds: limit.interval * 1000,
                                              burst: max(1, burst)).run(on: redis)
        guard let milliseconds = reply.integer else {
            throw TaskQueueError.unexpectedReply(operation: "reserve_rate_slot", reply: "\(reply)")
        }
        return Double(max(0, milliseconds)) / 1000
    }

    /// Sets (or with nil, removes) the global rate limit of a task name.
    public func setRateLimit(_ limit: RateLimit?, for task: String) async throws {
        if let limit {
            _ = try await redis.send(["HSET", RedisArgument(keys.rateLimits), RedisArgument(task), RedisArgument(limit.description)])
        } else {
            _ = try await redis.send(["HDEL", RedisArgument(keys.rateLimits), RedisArgument(task)])
        }
    }

    /// The global rate limits set in Redis, by task name (unparsable entries left out).
    public func rateLimits() async throws -> [String: RateLimit] {
        let reply = try await redis.send(["HGETALL", RedisArgument(keys.rateLimits)])
        let items = reply.array ?? []
        var limits: [String: RateLimit] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) {
            if let task = items[index].string, let text = items[index + 1].string, let limit = RateLimit(text) { limits[task] = limit }
        }
        return limits
    }
}
