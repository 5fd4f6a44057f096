import CoreMetrics
import Synchronization

/// Request metrics as middleware: `<prefix>_requests_total{route,method,status}` and
/// `<prefix>_requests_in_flight` through swift-metrics (the app bootstraps a backend such as
/// Prometheus), and the latency histogram `<prefix>_request_duration_seconds{route,method}`, kept here
/// and written by `emitAll(into:)` in the Prometheus text format. The route label is the matched
/// pattern (`/tasks/{id}`), or `unmatched`, so the label set stays bounded.
///
/// The hot path takes no lock, hashes nothing and builds no string: each event loop keeps cells of
/// its own (single-writer atomics, no cache line shared with another loop), found by the route's
/// index, holding a count per latency bucket and the latency sum. `flush()` folds the counts into the
/// shared counter and gauge; the app calls `RequestMetrics.flushAll()` and then `emitAll(into:)` when
/// it renders `/metrics`, so a scrape sees every request answered before it.
public final class RequestMetrics: HTTPMiddleware {
    let prefix: String
    /// The latency buckets' upper bounds in nanoseconds, ascending.
    let bounds: [Int64]
    private let inFlight: Meter
    private let local: ThreadLocal<RequestMetricsCache>
    // Every thread's cache and every cell, for `flush`; appended to on a miss only.
    let shards: Mutex<(caches: [RequestMetricsCache], cells: [RequestMetricsCache.Cell])> = Mutex(([], []))
    private let flushing = Mutex(())

    /// swift-prometheus's default buckets for a timer, so the histogram reads as it did through it.
    public static let defaultBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// Metrics named `<prefix>_…` (default `celeriac_http`), latencies counted in `buckets` (upper
    /// bounds; instances that share a prefix must share the buckets).
    public init(prefix: String = "celeriac_http", buckets: [Duration] = RequestMetrics.defaultBuckets) {
        self.prefix = prefix
        bounds = buckets.map(Self.nanoseconds).sorted()
        inFlight = Meter(label: prefix + "_requests_in_flight")
        local = ThreadLocal { RequestMetricsCache() }
        Self.instances.withLock { $0.append(self) }
    }

    /// One more request in flight.
    public func willRespond(to request: HTTPRequest, route: MatchedRoute) -> HTTPResponse? {
        cache { $0.started.bump() }
        return nil
    }

    /// Counts and times the request, whatever answered it.
    public func didRespond(to request: HTTPRequest, route: MatchedRoute, status: Int, nanoseconds: UInt64) {
        cache { cache in
            cache.finished.bump()
            let cell = cache.cell(index: route.index, route: route.patternName, method: request.method, status: status)
                ?? Unmanaged.passUnretained(makeCell(route: route, method: request.method, status: status, in: cache))
            cell._withUnsafeGuaranteedRef { $0.record(Int64(clamping: nanoseconds)) }
        }
    }

    /// Folds every thread's counts into the shared counters and the in-flight gauge.
    public func flush() {
        flushing.withLock { _ in
            let (caches, cells) = shards.withLock { ($0.caches, $0.cells) }
            var inFlightNow = 0
            for cache in caches {
                inFlightNow += cache.started.load(ordering: .relaxed) - cache.finished.load(ordering: .relaxed)
            }
            inFlight.set(max(0, inFlightNow))
            for cell in cells {
                let count = cell.count
                if count > cell.flushed {
                    cell.requests.increment(by: count - cell.flushed)
                    cell.flushed = count
                }
            }
        }
    }

    /// `flush()` of every `RequestMetrics` made: call it just before rendering the metrics.
    public static func flushAll() {
        for metrics in instances.withLock({ $0 }) { metrics.flush() }
    }

    // Every instance made, held for the process's life (a server keeps its middleware that long
    // anyway; a weak reference would put every retain of the middleware on the slow path).
    static let instances = Mutex<[RequestMetrics]>([])

    @inline(__always) private func cache<R>(_ body: (RequestMetricsCache) -> R) -> R {
        local.withValue(body) { made in shards.withLock { $0.caches.append(made) } }
    }

    // A label set this thread has not seen: a cell, registered for `flush` and the exposition.
    private func makeCell(route: MatchedRoute, method: HTTPMethod, status: Int, in cache: RequestMetricsCache)
        -> RequestMetricsCache.Cell {
        let requests = Counter(label: prefix + "_requests_total",
                               dimensions: [("route", route.pattern ?? "unmatched"), ("method", method.rawValue),
                                            ("status", String(status))])
        let cell = RequestMetricsCache.Cell(route: route.patternName, method: method, status: status, requests: requests,
                                            bounds: bounds)
        cache.add(cell, index: route.index)
        shards.withLock { $0.cells.append(cell) }
        return cell
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }
}
