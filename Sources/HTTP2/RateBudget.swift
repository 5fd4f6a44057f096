/// A token bucket on the session's clock: `burst` events at once, refilled at `perSecond`. A peer that
/// spends more than it earns is abusing the connection (rapid reset, SETTINGS/PING floods).
struct RateBudget {
    let burst: Double
    let perSecond: Double
    private var tokens: Double
    private var last: UInt64

    init(burst: Int, perSecond: Int, now: UInt64) {
        self.burst = Double(max(burst, 1))
        self.perSecond = Double(max(perSecond, 0))
        tokens = self.burst
        last = now
    }

    /// Spends one token; false when none is left.
    mutating func spend(now: UInt64) -> Bool {
        if now > last {
            tokens = min(burst, tokens + Double(now - last) / 1e9 * perSecond)
            last = now
        }
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
