/// A rate in Celery's `rate_limit` syntax: `"10/s"`, `"100/m"`, `"1000/h"`, or a bare number (per
/// second). Celery applies it per worker; Celeriac's limiter applies it across all workers.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    /// Tasks allowed per `per` seconds.
    public var count: Double
    /// The period: 1, 60 or 3600 seconds.
    public var per: Double

    /// Parses Celery's syntax; nil for anything else (a zero or negative count, an unknown unit, or a
    /// rate above a million a second or below one a year, which no timer could honour).
    public init?(_ text: String) {
        let parts = text.trimmingSpaces().split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let count = Double(parts[0]), count.isFinite, count > 0 else { return nil }
        switch parts.count == 2 ? String(parts[1]) : "s" {
        case "s": per = 1
        case "m": per = 60
        case "h": per = 3600
        default: return nil
        }
        self.count = count
        guard (1 / (365 * 86_400)...1_000_000).contains(count / per) else { return nil }
    }

    /// Seconds between two tasks at this rate (GCRA's emission interval).
    public var interval: Double { per / count }

    /// Celery's spelling, e.g. `10/s` (a whole count without `.0`).
    public var description: String {
        let unit = per == 1 ? "s" : per == 60 ? "m" : "h"
        return (count == count.rounded() && count < 1e15 ? String(Int64(count)) : String(count)) + "/" + unit
    }
}

extension String {
    fileprivate func trimmingSpaces() -> Substring {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
