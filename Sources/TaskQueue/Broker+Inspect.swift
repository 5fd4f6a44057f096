import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// A message waiting in the scheduled set (ETA, countdown, retry), as `celery inspect scheduled` lists it.
    public struct ScheduledMessage: Sendable {
        /// The list it moves to when due (a queue or one of its priority bands).
        public var list: String
        /// When it moves to its list.
        public var due: Date
        /// The kombu envelope, exactly as it will be pushed.
        public var envelope: [UInt8]
    }

    /// Scheduled messages bound for `lists`, earliest first: at most `limit`, found among the
    /// earliest `scan` entries of the scheduled set (which every queue shares), so one call stays bounded.
    public func scheduledMessages(for lists: Set<String>, limit: Int = 1_000, scan: Int = 10_000) async throws -> [ScheduledMessage] {
        guard limit > 0, scan > 0 else { return [] }
        let reply = try await redis.send(["ZRANGE", RedisArgument(keys.scheduled), "0", RedisArgument(scan - 1), "WITHSCORES"])
        let items = reply.array ?? []
        var found: [ScheduledMessage] = []
        var index = 0
        while index + 1 < items.count, found.count < limit {
            defer { index += 2 }
            guard let member = items[index].bytes, let newline = member.firstIndex(of: 10),
                  let score = items[index + 1].string.flatMap(Double.init), score.isFinite else { continue }
            let list = String(decoding: member[..<newline], as: UTF8.self)
            guard lists.contains(list) else { continue }
            found.append(ScheduledMessage(list: list, due: Date(timeIntervalSince1970: score),
                                          envelope: Array(member[(newline + 1)...])))
        }
        return found
    }
}
