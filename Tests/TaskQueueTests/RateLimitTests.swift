import Foundation
import RedisClient
import TaskProtocol
import Testing
@testable import TaskQueue

/// The global rate limiter's pieces: Celery's rate syntax and the GCRA reservation script.
@Suite struct RateLimitTests {
    @Test func celerysRateSyntax_parses_andNonsenseIsRefused() {
        #expect(RateLimit("10/s")?.interval == 0.1)
        #expect(RateLimit("100/m")?.interval == 0.6)
        #expect(RateLimit("1000/h")?.interval == 3.6)
        #expect(RateLimit("5")?.interval == 0.2)
        #expect(RateLimit("2.5/s")?.description == "2.5/s")
        #expect(RateLimit("20/s")?.description == "20/s")
        for bad in ["", "0/s", "-1/s", "10/d", "x/s", "10/", "/s", "1e300/s", "nan/s", "inf", "10/s/s", "1e-9/h"] {
            #expect(RateLimit(bad) == nil, "\(bad)")
        }
    }

    @Test func reservations_areSpacedOneIntervalApart_soNoSecondHoldsMoreThanTheRate() async throws {
        let h = try ScriptHarness()
        // Slow enough that a busy machine's delays between calls do not blur the spacing: a caller may
        // resume up to ~0.3 s after another whose answer came later (seen while test start-up loads the pool).
        let limit = try #require(RateLimit("1/s"))
        // 30 callers at once (as many workers would be): each gets its own slot, 1 s after the last.
        // Each wait is relative to its own call; the start it stands for is absolute (when the answer came
        // plus the wait), so a loaded machine's delays between calls do not look like a spacing error.
        let begin = Date()
        let waits = try await withThrowingTaskGroup(of: (wait: Double, start: Double).self) { group in
            for _ in 0..<30 {
                group.addTask {
                    let wait = try await h.broker.reserveRateSlot(task: "t.limited", limit: limit)
                    return (wait, Date().timeIntervalSince(begin) + wait)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.start < $1.start }
        }
        let starts = waits.map(\.start)
        #expect(waits.contains { $0.wait == 0 }, "the first caller starts at once")
        #expect(starts.last! - starts.first! >= 28.5 && starts.last! - starts.first! < 30.5, "30 starts at 1/s span ~29 s, not \(starts.last! - starts.first!)")
        for (earlier, later) in zip(starts, starts.dropFirst()) { #expect(later - earlier >= 0.5, "\(earlier) → \(later)") }
        for start in starts { #expect(starts.filter { $0 >= start && $0 < start + 1 }.count <= 2, "at most the rate plus one per second") }
        // Another task name has its own bucket.
        #expect(try await h.broker.reserveRateSlot(task: "t.other", limit: limit) == 0)
        // The bucket expires with its last reservation: an idle limiter keeps nothing.
        #expect((try await h.run(["PTTL", RedisArgument(h.broker.keys.rateBucket("t.limited"))]).integer ?? 0) > 20_000)
    }

    @Test func aBurst_startsBackToBack_thenTheRateApplies() async throws {
        let h = try ScriptHarness()
        // One a minute: a busy machine's delays between the calls cannot matter.
        let limit = try #require(RateLimit("1/m"))
        var waits: [Double] = []
        for _ in 0..<5 { waits.append(try await h.broker.reserveRateSlot(task: "t.burst", limit: limit, burst: 3)) }
        #expect(waits[0] == 0 && waits[1] == 0 && waits[2] == 0)
        #expect(waits[3] > 50 && waits[3] <= 60)
        #expect(abs(waits[4] - waits[3] - 60) < 1)
    }

    @Test func rateLimitsInRedis_areSetReadAndRemoved() async throws {
        let h = try ScriptHarness()
        try await h.broker.setRateLimit(RateLimit("10/s"), for: "t.a")
        try await h.broker.setRateLimit(RateLimit("100/m"), for: "t.b")
        #expect(try await h.broker.rateLimits() == ["t.a": RateLimit("10/s")!, "t.b": RateLimit("100/m")!])
        try await h.broker.setRateLimit(nil, for: "t.a")
        #expect(try await h.broker.rateLimits() == ["t.b": RateLimit("100/m")!])
    }
}
