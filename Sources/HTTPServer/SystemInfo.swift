import Glibc

enum SystemInfo {
    /// CPU cores online (at least 1).
    static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

/// Seconds as nanoseconds for deadlines, saturating instead of trapping: NaN and negatives are 0, and
/// anything past ~95 years is 3e18 ns, so that `now + nanoseconds(x)` cannot overflow either.
@inline(__always) func nanoseconds(_ seconds: Double) -> UInt64 {
    guard seconds > 0 else { return 0 }
    return seconds < 3e9 ? UInt64(seconds * 1e9) : 3_000_000_000_000_000_000
}
