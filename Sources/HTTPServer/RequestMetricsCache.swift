import CoreMetrics
import Synchronization

/// One thread's share of a `RequestMetrics`: its in-flight counts and its cells by label set. Only
/// the owning thread writes (so `bump` is a plain load and store, no read-modify-write), and
/// `RequestMetrics.flush` reads the atomics from another thread; the dictionary is the owner's alone.
final class RequestMetricsCache: @unchecked Sendable {
    struct Key: Hashable {
        var route: String?
        var method: HTTPMethod
        var status: Int
    }

    /// The requests of one label set answered on this thread, and the handles they go to.
    final class Cell: @unchecked Sendable {
        let count = Atomic<Int>(0)
        /// How much of `count` the shared counter has; `flush` only (under its lock).
        var flushed = 0
        let requests: Counter
        let duration: CoreMetrics.Timer

        init(requests: Counter, duration: CoreMetrics.Timer) {
            self.requests = requests
            self.duration = duration
        }
    }

    let started = Atomic<Int>(0)
    let finished = Atomic<Int>(0)
    var cells: [Key: Cell] = [:]
}

extension Atomic where Value == Int {
    /// +1 by the one thread that writes this value (readers elsewhere see the old or the new count).
    @inline(__always) func bump() {
        store(load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }
}
