import Foundation
import Logging
import RedisClient
import TaskProtocol
import TaskQueue
import Testing
import TestSupport
@testable import Beat

/// Beats against a real redis-server with frozen clocks: passes run at chosen instants, no sleeping.
@Suite struct BeatLeaseTests {
    final class Harness: @unchecked Sendable {
        let server: RedisServer
        let redis: RedisClient
        let broker: Broker
        init() throws {
            server = try RedisServer.start()
            redis = RedisClient(configuration: try RedisConfiguration(url: server.url))
            broker = Broker(redis: redis)
        }
        deinit { redis.close(); server.stop() }

        func beat(_ owner: String, lease: Double = 10, schedules: [PeriodicSchedule] = []) -> Beat {
            Beat(broker: broker, configuration: BeatConfiguration(owner: owner, lease: lease), schedules: schedules,
                 logger: Logger(label: "test.beat"))
        }
        func save(_ name: String, _ json: String) async throws { try await broker.saveSchedule(name, definition: json) }
        /// The tick ids of the messages in `queue`, oldest first.
        func ticks(_ queue: String = "celery") async throws -> [String] {
            let items = try await redis.send(["LRANGE", RedisArgument(queue), "0", "-1"]).array ?? []
            return try items.reversed().compactMap { item in
                try TaskMessage.decode(item.bytes ?? []).headers["celeriac_tick"]?.stringValue
            }
        }
    }

    static func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test func aBerlinCrontab_firesAtNineBerlinTime_byFrozenClock() async throws {
        let h = try Harness()
        let schedule = try PeriodicSchedule(name: "report", json: try JSONValue.parse(
            #"{"task":"t.report","cron":"0 9 * * *","timezone":"Europe/Berlin","queue":"reports"}"#))
        let beat = h.beat("a", schedules: [schedule])
        try await beat.storeCodeSchedules()
        #expect(try await beat.pass(now: Self.utc("2026-07-01T06:58:00Z")).isEmpty)   // 08:58 in Berlin: arms
        #expect(try await beat.pass(now: Self.utc("2026-07-01T06:59:59Z")).isEmpty)
        let sent = try await beat.pass(now: Self.utc("2026-07-01T07:00:00Z"))          // 09:00 CEST
        #expect(sent.map(\.tickID) == ["report@\(Int64(Self.utc("2026-07-01T07:00:00Z").timeIntervalSince1970 * 1000))"])
        #expect(try await beat.pass(now: Self.utc("2026-07-01T07:00:30Z")).isEmpty)
        #expect(try await h.ticks("reports").count == 1)
        // In winter the same schedule fires at 08:00 UTC.
        #expect(try await beat.pass(now: Self.utc("2026-12-01T07:59:00Z")).count == 1)   // catch-up: yesterday's 09:00, once
        #expect(try await beat.pass(now: Self.utc("2026-12-01T07:59:59Z")).isEmpty)
        #expect(try await beat.pass(now: Self.utc("2026-12-01T08:00:00Z")).count == 1)
        #expect(try await h.ticks("reports").count == 3)
    }

    @Test func onlyTheLeaseHolder_publishes_andAStandbyTakesOver_withoutRepeatingATick() async throws {
        let h = try Harness()
        try await h.save("often", #"{"task":"t.ping","every":1}"#)
        let a = h.beat("a"), b = h.beat("b")
        let t0 = Date(timeIntervalSince1970: 2_000_000_000)
        #expect(try await a.pass(now: t0).isEmpty)          // arms the schedule
        #expect(try await b.pass(now: t0).isEmpty)
        let aLeads = await a.isLeader, bLeads = await b.isLeader
        #expect(aLeads && !bLeads)
        #expect(try await a.pass(now: t0 + 1).count == 1)
        #expect(try await b.pass(now: t0 + 1).isEmpty)
        // The leader dies: its lease runs out; the standby leads and does not repeat the tick at t0+1.
        try await h.redis.send(["DEL", RedisArgument(h.broker.keys.beatLease)])
        #expect(try await b.pass(now: t0 + 1.5).isEmpty)
        let bLeadsNow = await b.isLeader
        #expect(bLeadsNow)
        #expect(try await b.pass(now: t0 + 2).map(\.tickID) == ["often@\(Int64(t0.timeIntervalSince1970 + 2) * 1000)"])
        // The old leader, back from a pause, cannot publish: its token is fenced off.
        #expect(try await a.pass(now: t0 + 3).isEmpty)
        let aLeadsAgain = await a.isLeader
        #expect(!aLeadsAgain)
        let ticks = try await h.ticks()
        #expect(ticks.count == 2 && Set(ticks).count == 2)
    }

    @Test func aTick_publishesOnce_andAStaleTokenWritesNothing() async throws {
        let h = try Harness()
        let token = try #require(try await h.broker.acquireBeatLease(owner: "a", seconds: 10))
        #expect(try await h.broker.acquireBeatLease(owner: "b", seconds: 10) == nil)
        #expect(try await h.broker.acquireBeatLease(owner: "a", seconds: 10) == token)   // renewal keeps the fence
        let due = Date(timeIntervalSince1970: 1_000)
        let first = TaskMessage.make(task: "t", args: [], kwargs: [:])
        #expect(try await h.broker.publishTick(first, tickID: "s@1", schedule: "s", due: due, token: token) == .published(first.id))
        let again = TaskMessage.make(task: "t", args: [], kwargs: [:])
        #expect(try await h.broker.publishTick(again, tickID: "s@1", schedule: "s", due: due, token: token) == .duplicate(first.id))
        try await h.broker.releaseBeatLease(token: token)
        let newer = try #require(try await h.broker.acquireBeatLease(owner: "b", seconds: 10))
        #expect(newer != token && newer.hasPrefix("2:"))
        #expect(try await h.broker.publishTick(again, tickID: "s@2", schedule: "s", due: due + 1, token: token) == .notLeader)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(1))
    }

    @Test func schedulesSavedWhileRunning_arePickedUp_andDeletedOnesStop() async throws {
        let h = try Harness()
        let a = h.beat("a")
        let t0 = Date(timeIntervalSince1970: 2_000_000_000)
        #expect(try await a.pass(now: t0).isEmpty)
        try await h.save("late", #"{"task":"t.x","every":10}"#)
        #expect(try await a.pass(now: t0 + 1).isEmpty)                  // arms
        #expect(try await a.pass(now: t0 + 10).count == 1)
        #expect(try await h.broker.deleteSchedule("late"))
        #expect(try await a.pass(now: t0 + 20).isEmpty)
        try await h.save("broken", #"{"task":"t.x","every":0}"#)       // skipped, logged, not fatal
        #expect(try await a.pass(now: t0 + 30).isEmpty)
    }
}
