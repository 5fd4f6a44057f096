import Foundation
import TaskProtocol
import Testing

/// Issue 10: conversions from outside numbers never trap, and the plan a worker makes from a message
/// follows Celery's rules for limits, expiry and ETAs.
@Suite struct TimeBoundsTests {
    @Test func dateFormatting_clampsToWhatPythonsDatetimeHolds_insteadOfTrapping() {
        #expect(CeleryDate.format(Date(timeIntervalSince1970: 1e300)) == "9999-12-31T23:59:59.000000+00:00")
        #expect(CeleryDate.format(Date(timeIntervalSince1970: -1e300)) == "0001-01-01T00:00:00.000000+00:00")
        #expect(CeleryDate.format(Date(timeIntervalSince1970: .nan)) == "1970-01-01T00:00:00.000000+00:00")
        #expect(CeleryDate.format(Date(timeIntervalSince1970: 1e19)) == "9999-12-31T23:59:59.000000+00:00")
    }

    @Test func nanoseconds_saturate_forNaNNegativeAndHugeSeconds() {
        #expect(TimeBounds.nanoseconds(.nan) == 0)
        #expect(TimeBounds.nanoseconds(-5) == 0)
        #expect(TimeBounds.nanoseconds(1e300) == .max)
        #expect(TimeBounds.nanoseconds(.infinity) == .max)
        #expect(TimeBounds.nanoseconds(1.5) == 1_500_000_000)
    }

    @Test func delays_mustBeFiniteAndWithinTenYears() {
        #expect(TimeBounds.isDelay(0))
        #expect(TimeBounds.isDelay(TimeBounds.maxSecondsAhead))
        #expect(!TimeBounds.isDelay(TimeBounds.maxSecondsAhead + 1))
        #expect(!TimeBounds.isDelay(-1))
        #expect(!TimeBounds.isDelay(.nan))
        #expect(!TimeBounds.isDelay(.infinity))
    }

    static func message(_ headers: JSONObject) -> TaskMessage {
        var message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        for pair in headers.pairs { message.headers[pair.key] = pair.value }
        return message
    }

    @Test func plan_takesAPositiveLimitFromTheMessage_elseTheTasksOwn() {
        let now = Date()
        let own = ExecutionPlan(message: Self.message(["timelimit": [nil, nil]]), now: now, defaultSoft: 5, defaultHard: 10)
        #expect(own.softLimit == 5 && own.hardLimit == 10)
        let zero = ExecutionPlan(message: Self.message(["timelimit": [0, 0]]), now: now, defaultSoft: 5, defaultHard: nil)
        #expect(zero.softLimit == 5 && zero.hardLimit == nil, "0 means the task's own limit, as in Celery")
        let given = ExecutionPlan(message: Self.message(["timelimit": [30, 20]]), now: now, defaultSoft: 5, defaultHard: 10)
        #expect(given.hardLimit == 30 && given.softLimit == 20)
        #expect(given.start == .now)
    }

    @Test func plan_expiresBeforeItWaits_andWaitsForAnETAAhead() {
        let now = Date()
        let past = CeleryDate.format(now.addingTimeInterval(-1))
        let ahead = now.addingTimeInterval(60)
        #expect(ExecutionPlan(message: Self.message(["expires": .string(past), "eta": .string(CeleryDate.format(ahead))]), now: now).start == .expired)
        guard case .at(let eta) = ExecutionPlan(message: Self.message(["eta": .string(CeleryDate.format(ahead))]), now: now).start else {
            Issue.record("an ETA a minute ahead must wait")
            return
        }
        #expect(abs(eta.timeIntervalSince(ahead)) < 0.001)
        #expect(ExecutionPlan(message: Self.message(["eta": .string(past)]), now: now).start == .now)
    }
}
