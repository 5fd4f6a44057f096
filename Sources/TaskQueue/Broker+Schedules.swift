import Foundation
import RedisClient
import TaskProtocol

/// What became of a tick the beat tried to publish.
public enum TickOutcome: Sendable, Equatable {
    /// Published now, as this task id.
    case published(String)
    /// Published before (by this or another leader), as this task id: nothing sent again.
    case duplicate(String)
    /// This beat's lease token no longer leads: nothing written.
    case notLeader
}

/// Periodic schedules: their stored definitions, the leader lease of the beats, fenced ticks.
extension Broker {
    /// Stores (or replaces) a schedule's definition, as JSON text; running beats see it on their next pass.
    public func saveSchedule(_ name: String, definition: String) async throws {
        _ = try await redis.send(["HSET", RedisArgument(keys.schedules), RedisArgument(name), RedisArgument(definition)])
            .throwingError(command: "HSET")
    }

    /// Removes a schedule and its last tick; true when it existed.
    public func deleteSchedule(_ name: String) async throws -> Bool {
        let replies = try await redis.transaction([
            ["HDEL", RedisArgument(keys.schedules), RedisArgument(name)],
            ["HDEL", RedisArgument(keys.scheduleLastTicks), RedisArgument(name)],
        ])
        return (replies.first?.integer ?? 0) > 0
    }

    /// Every stored schedule: name → definition JSON.
    public func schedules() async throws -> [String: String] {
        try await redis.send(["HGETALL", RedisArgument(keys.schedules)]).throwingError(command: "HGETALL").fields
    }

    /// Due time (Unix seconds) of each schedule's last published tick.
    public func scheduleLastTicks() async throws -> [String: Double] {
        let fields = try await redis.send(["HGETALL", RedisArgument(keys.scheduleLastTicks)]).throwingError(command: "HGETALL").fields
        return fields.compactMapValues(Double.init)
    }

    /// Takes or renews the beat lease for `owner` for `seconds`; the token held, or nil when another
    /// beat leads. Each new leadership gets a higher fence in its token.
    public func acquireBeatLease(owner: String, seconds: Double) async throws -> String? {
        let ms = max(1, Int((min(seconds, TimeBounds.maxTimeLimit) * 1000).rounded()))
        return try await AcquireLease(lease: keys.beatLease, fence: keys.beatFence, owner: owner, milliseconds: ms)
            .run(on: redis).throwingError(command: "acquire_lease").string
    }

    /// Gives the lease up now if `token` still holds it (a clean stop), so a standby takes over at once.
    public func releaseBeatLease(token: String) async throws {
        _ = try await ReleaseLease(lease: keys.beatLease, token: token).run(on: redis).throwingError(command: "release_lease")
    }

    /// Publishes `message` as tick `tickID` of `schedule` due at `due`, once and only while `token` leads.
    /// The tick's claim lives as long as results do (at least a day), longer than any catch-up.
    public func publishTick(_ message: TaskMessage, tickID: String, schedule: String, due: Date, token: String,
                            now: Date = Date()) async throws -> TickOutcome {
        let reply = try await PublishTick(
            lease: keys.beatLease, claim: keys.tick(tickID), list: listName(for: message), record: keys.taskRecord(message.id),
            lastTicks: keys.scheduleLastTicks, token: token, taskID: message.id, claimTTL: max(86_400, resultExpires),
            envelope: message.encoded(), recordTTL: max(1, resultExpires),
            recordPairs: TaskRecord.Update.submitted(message, at: now).pairs,
            schedule: schedule, due: due.timeIntervalSince1970).run(on: redis).throwingError(command: "publish_tick")
        let parts = reply.array ?? []
        switch (parts.first?.integer, parts.count > 1 ? parts[1].string : nil) {
        case (1, let id?): return .published(id)
        case (2, let id?): return .duplicate(id)
        case (0, _): return .notLeader
        default: throw TaskQueueError.unexpectedReply(operation: "publish_tick", reply: "\(reply)")
        }
    }
}

extension Broker {
    /// Records `at` as a schedule's reference when it has none yet (a beat seeing it for the first
    /// time), so a new schedule first fires at its first due time after that, never for the past.
    /// Returns the reference in force (the one stored first).
    public func armSchedule(_ name: String, at: Date) async throws -> Double {
        let replies = try await redis.transaction([
            ["HSETNX", RedisArgument(keys.scheduleLastTicks), RedisArgument(name), RedisArgument(at.timeIntervalSince1970)],
            ["HGET", RedisArgument(keys.scheduleLastTicks), RedisArgument(name)],
        ])
        guard let text = replies.last?.string, let value = Double(text) else {
            throw TaskQueueError.unexpectedReply(operation: "arm_schedule", reply: "\(replies)")
        }
        return value
    }
}
