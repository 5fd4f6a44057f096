import Foundation
import RedisClient

extension Broker {
    /// Tasks finished in one minute, as the completion scripts counted them.
    public struct MinuteCount: Sendable, Equatable {
        /// The minute's first second.
        public var start: Date
        /// Tasks stored as SUCCESS in it.
        public var succeeded: Int
        /// Tasks stored as FAILURE in it.
        public var failed: Int
    }

    /// The last `minutes` minutes up to and including the current one, oldest first, one entry each
    /// (a minute with no completion is zeros). One round trip; at most `TaskIndex.throughputSeconds` back.
    public func throughput(minutes: Int, now: Date = Date()) async throws -> [MinuteCount] {
        let last = TaskIndex.minute(now)
        let range = (last - max(1, minutes) + 1)...last
        let replies = try await redis.pipeline(range.map {
            ["HMGET", RedisArgument(keys.throughput(minute: $0)), "succeeded", "failed"]
        })
        return try zip(range, replies).map { minute, reply in
            let values = try reply.throwingError(command: "HMGET").array ?? []
            func count(_ k: Int) -> Int { k < values.count ? Int(values[k].integer ?? 0) : 0 }
            return MinuteCount(start: Date(timeIntervalSince1970: Double(minute) * 60), succeeded: count(0), failed: count(1))
        }
    }
}
