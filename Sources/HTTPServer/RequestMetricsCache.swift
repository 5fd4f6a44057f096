import CoreMetrics
import Synchronization

/// One thread's share of a `RequestMetrics`: its in-flight counts and its cells, found by the route's
/// pre-resolved index (no hashing, no string built per request). Only the owning thread writes (so
/// `bump` is a plain load and store, no read-modify-write), and `RequestMetrics.flush` and the
/// exposition read the atomics from another thread; `slots` is the owner's alone.
final class RequestMetricsCache: @unchecked Sendable {
    /// The requests of one label set answered on this thread: their latency histogram (a count per
    /// bucket, so the request count is their sum) and the shared counter they are folded into.
    final class Cell: @unchecked Sendable {
        let route: String?
        /// `route` as its interned number, compared per request.
        let routeName: InternedName?
        let method: HTTPMethod
        let status: Int
        let requests: Counter
        /// How many requests the shared counter has; `flush` only (under its lock).
        var flushed = 0
        /// Upper bounds of the buckets in nanoseconds, ascending (shared by every cell).
        let bounds: [Int64]
        /// `bounds.count + 1` counts (each bucket not cumulative, then the overflow past the last
        /// bound), then the sum of the nanoseconds recorded.
        private let slots: UnsafeMutablePointer<Atomic<Int>>

        init(route: InternedName?, method: HTTPMethod, status: Int, requests: Counter, bounds: [Int64]) {
            self.route = route?.text
            routeName = route
            self.method = method
            self.status = status
            self.requests = requests
            self.bounds = bounds
            slots = .allocate(capacity: bounds.count + 2)
            for slot in 0..<bounds.count + 2 { (slots + slot).initialize(to: Atomic(0)) }
        }

        deinit {
            slots.deinitialize(count: bounds.count + 2)
            slots.deallocate()
        }

        /// One request of `nanoseconds`; the owning thread only.
        @inline(__always) func record(_ nanoseconds: Int64) {
            var bucket = 0
            let count = bounds.count
            while bucket < count, bounds[bucket] < nanoseconds { bucket += 1 }
            slots[bucket].bump()
            slots[count + 1].store(slots[count + 1].load(ordering: .relaxed) &+ Int(nanoseconds), ordering: .relaxed)
        }

        /// The counts per bucket (not cumulative, the overflow last) and the sum, read from any thread.
        func snapshot() -> (buckets: [Int], sum: Int) {
            var buckets: [Int] = []
            buckets.reserveCapacity(bounds.count + 1)
            for slot in 0...bounds.count { buckets.append(slots[slot].load(ordering: .relaxed)) }
            return (buckets, slots[bounds.count + 1].load(ordering: .relaxed))
        }

        /// Requests recorded so far, read from any thread.
        var count: Int {
            var total = 0
            for slot in 0...bounds.count { total += slots[slot].load(ordering: .relaxed) }
            return total
        }
    }

    let started = Atomic<Int>(0)
    let finished = Atomic<Int>(0)
    /// Cells by route index + 1 (slot 0: unmatched or unknown index), a few per route (method, status).
    /// The owner's alone, so exempt from the runtime exclusivity check (on the per-request path).
    @exclusivity(unchecked) var slots: [[Cell]] = []
    /// Per slot, the cell used last, unretained (`slots` holds it): a route answered with one method
    /// and status again and again finds its cell with no reference counting at all.
    @exclusivity(unchecked) var recent: [Unmanaged<Cell>?] = []

    /// The cell of this label set, or nil when this thread has not seen it yet; unretained, valid
    /// while this cache lives.
    @inline(__always) func cell(index: Int, route: InternedName?, method: HTTPMethod, status: Int) -> Unmanaged<Cell>? {
        let slot = max(0, index + 1)
        guard slot < recent.count else { return nil }
        if let hit = recent[slot],
           hit._withUnsafeGuaranteedRef({ $0.status == status && $0.method == method && $0.routeName == route }) {
            return hit
        }
        for cell in slots[slot] where cell.status == status && cell.method == method && cell.routeName == route {
            let found = Unmanaged.passUnretained(cell)
            recent[slot] = found
            return found
        }
        return nil
    }

    /// Adds a cell made for a label set this thread had not seen.
    func add(_ cell: Cell, index: Int) {
        let slot = max(0, index + 1)
        if slots.count <= slot {
            slots.append(contentsOf: repeatElement([], count: slot + 1 - slots.count))
            recent.append(contentsOf: repeatElement(nil, count: slot + 1 - recent.count))
        }
        slots[slot].append(cell)
        recent[slot] = Unmanaged.passUnretained(cell)
    }
}

extension Atomic where Value == Int {
    /// +1 by the one thread that writes this value (readers elsewhere see the old or the new count).
    @inline(__always) func bump() {
        store(load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }
}
