import Glibc

enum SystemInfo {
    /// CPU cores online (at least 1).
    static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

/// Seconds to nanoseconds for deadlines.
@inline(__always) func nanoseconds(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1e9) }
