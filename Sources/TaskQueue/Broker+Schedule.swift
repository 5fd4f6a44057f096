import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// A message as the scheduled set holds it: `list\nenvelope`, scored by its due time.
    public struct Scheduled: Sendable {
        /// `list\nenvelope`.
        public var member: [UInt8]
        /// When it moves to its list.
        public var due: Date
    }

    /// The scheduled-set entry of `message`, due at `due`. Made only to be written (a retry's next
    /// attempt goes in with its result), so this process's promoters hear of `due` here.
    public func scheduled(_ message: TaskMessage, at due: Date) -> Scheduled {
        scheduleNotices.post(due)
        return Scheduled(member: Array((listName(for: message) + "\n").utf8) + message.encoded(), due: due)
    }

    /// Puts a message in the scheduled set.
    public func schedule(_ message: TaskMessage, at due: Date) async throws {
        let entry = scheduled(message, at: due)
        try await redis.send(["ZADD", RedisArgument(keys.scheduled), RedisArgument(due.timeIntervalSince1970), RedisArgument(entry.member)])
        scheduleNotices.post(due)
    }

    /// Moves a held message (an ETA message received early) to the scheduled set and releases the
    /// hold, in one step fenced by the lease: false, and nothing done, when the lease passed on.
    public func schedule(_ message: TaskMessage, at due: Date, releasingHold tag: String, leaseToken: String) async throws -> Bool {
        let reply = try await ScheduleHeld(scheduled: keys.scheduled, unacked: KeySpace.unacked, unackedIndex: KeySpace.unackedIndex,
                                           leases: keys.leases, due: due.timeIntervalSince1970,
                                           member: scheduled(message, at: due).member, tag: tag, leaseToken: leaseToken).run(on: redis)
        if reply.integer == 1 { scheduleNotices.post(due) }
        return reply.integer == 1
    }

    /// Moves every due scheduled message to its queue; safe to run from many workers at once.
    /// Reads the due members first (their lists are named in them), then moves them in one step.
    public func promoteDue(now: Date = Date(), limit: Int = 500) async throws -> Int {
        let due = try await redis.send(["ZRANGE", RedisArgument(keys.scheduled), "-inf", RedisArgument(now.timeIntervalSince1970),
                                        "BYSCORE", "LIMIT", "0", RedisArgument(limit)])
        let items = (due.array ?? []).compactMap(\.bytes).map { member in
            PromoteDue.Item(member: member, list: member.firstIndex(of: 10).map { String(decoding: member[..<$0], as: UTF8.self) })
        }
        guard !items.isEmpty else { return 0 }
        return Int(try await PromoteDue(scheduled: keys.scheduled, items: items).run(on: redis).integer ?? 0)
    }

    /// The due time of the earliest scheduled message, if any.
    public func nextScheduled() async throws -> Date? {
        let reply = try await redis.send(["ZRANGE", RedisArgument(keys.scheduled), "0", "0", "WITHSCORES"])
        guard let items = reply.array, items.count == 2, let score = items[1].string.flatMap(Double.init) else { return nil }
        return Date(timeIntervalSince1970: score)
    }
}
