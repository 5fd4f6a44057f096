import Foundation

/// What a worker does with a decoded message at a given time — pure, so that the decisions made on
/// a producer's numbers (expiry, ETA, time limits) are tested and fuzzed without Redis.
public struct ExecutionPlan: Sendable, Equatable {
    /// When the task may start.
    public enum Start: Sendable, Equatable {
        /// Its `expires` has passed: it is revoked without running (Celery's `expired`).
        case expired
        /// Its ETA is ahead: it goes to the scheduled set until then.
        case at(Date)
        /// It may run now.
        case now
    }

    public var start: Start
    /// Seconds until the handler is cancelled (`SoftTimeLimitExceeded`); nil for none.
    public var softLimit: Double?
    /// Seconds until the slot is freed whatever the handler does (`TimeLimitExceeded`); nil for none.
    public var hardLimit: Double?

    /// The plan for `message` at `now`. A limit in the message wins over the task's own default when
    /// it is positive (0 and null fall back to the default, as Celery's `time_limit or task.time_limit`).
    /// ETAs closer than 5 ms count as now. `message` has passed `TaskMessage.decode`, so its limits are in range.
    public init(message: TaskMessage, now: Date, defaultSoft: Double? = nil, defaultHard: Double? = nil) {
        func positive(_ seconds: Double?) -> Double? {
            guard let seconds, TimeBounds.isDelay(seconds, atMost: TimeBounds.maxTimeLimit), seconds > 0 else { return nil }
            return seconds
        }
        let limits = message.timeLimits
        softLimit = positive(limits.soft) ?? positive(defaultSoft)
        hardLimit = positive(limits.hard) ?? positive(defaultHard)
        if let expires = message.expires, expires < now {
            start = .expired
        } else if let eta = message.eta, eta.timeIntervalSince(now) > 0.005 {
            start = .at(eta)
        } else {
            start = .now
        }
    }
}
