import Foundation

/// The ranges every time that comes from outside (a request, a message, a flag) must fall in before it
/// becomes a `Date`, a duration or a timer: Swift traps on `Int(1e300)` and `UInt64(-5)`, so a number
/// is checked here first and out of range is an error naming the field, never a conversion.
public enum TimeBounds {
    /// The farthest ahead a countdown, ETA or expiry may lie: ten years. Longer is a mistake, not a plan.
    public static let maxSecondsAhead: Double = 10 * 365 * 86_400
    /// The longest time limit a task may carry: one week (a task that needs longer wants no limit).
    public static let maxTimeLimit: Double = 7 * 86_400
    /// The most retries a message may say it had: far above any sane `max_retries`, far below overflow.
    public static let maxRetries: Int64 = 1_000_000

    /// True for a finite number of seconds in `0...limit`.
    public static func isDelay(_ seconds: Double, atMost limit: Double = maxSecondsAhead) -> Bool {
        seconds.isFinite && seconds >= 0 && seconds <= limit
    }

    /// `seconds` as nanoseconds for `Task.sleep` and timers, saturating instead of trapping: NaN and
    /// negatives are 0, anything past `UInt64.max` nanoseconds (584 years) is `UInt64.max`. Callers
    /// validate first; this is the floor under that.
    public static func nanoseconds(_ seconds: Double) -> UInt64 {
        guard seconds > 0 else { return 0 }  // NaN compares false
        let nanos = seconds * 1e9
        return nanos < 18_446_744_073_709_549_568 ? UInt64(nanos) : .max  // the largest Double below 2^64
    }

    /// `seconds` as a whole number of seconds for Redis TTLs and the like, clamped to `1...Int32.max`.
    public static func wholeSeconds(_ seconds: Double) -> Int {
        guard seconds >= 1 else { return 1 }
        return seconds < Double(Int32.max) ? Int(seconds.rounded(.up)) : Int(Int32.max)
    }
}
