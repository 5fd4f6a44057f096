import CoreMetrics
import Synchronization

/// Request metrics as middleware, through swift-metrics (the app bootstraps a backend such as
/// Prometheus): `<prefix>_requests_total{route,method,status}`, the latency histogram
/// `<prefix>_request_duration_seconds{route,method}` and `<prefix>_requests_in_flight`. The route
/// label is the matched pattern (`/tasks/{id}`), or `unmatched`, so the label set stays bounded.
///
/// Counts are thread-confined: each event loop counts requests and in-flight changes in cells of its
/// own (single-writer atomics, no cache line shared with another loop), and `flush()` folds them
/// into the shared counter and gauge. The app calls `RequestMetrics.flushAll()` before it renders
/// `/metrics`, so a scrape sees every request answered before it. The latency histogram is recorded
/// per request (its buckets cannot be merged into the backend's later).
public final class RequestMetrics: HTTPMiddleware {
    private let prefix: String
    private let inFlight: Meter
    private let local: ThreadLocal<RequestMetricsCache>
    // Every thread's cache and every cell, for `flush`; appended to on a miss only.
    private let shards: Mutex<(caches: [RequestMetricsCache], cells: [RequestMetricsCache.Cell])> = Mutex(([], []))
    private let flushing = Mutex(())

    /// Metrics named `<prefix>_…` (default `celeriac_http`).
    public init(prefix: String = "celeriac_http") {
        self.prefix = prefix
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
        let key = RequestMetricsCache.Key(route: route.pattern, method: request.method, status: status)
        cache { cache in
            cache.finished.bump()
            let cell: RequestMetricsCache.Cell
            if let found = cache.cells[key] {
                cell = found
            } else {
                cell = makeCell(key)
                cache.cells[key] = cell
                shards.withLock { $0.cells.append(cell) }
            }
            cell.count.bump()
            cell.duration.recordNanoseconds(Int64(clamping: nanoseconds))
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
                let count = cell.count.load(ordering: .relaxed)
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
    private static let instances = Mutex<[RequestMetrics]>([])

    @inline(__always) private func cache<R>(_ body: (RequestMetricsCache) -> R) -> R {
        local.withValue(body) { made in shards.withLock { $0.caches.append(made) } }
    }

    private func makeCell(_ key: RequestMetricsCache.Key) -> RequestMetricsCache.Cell {
        let route = key.route ?? "unmatched"
        return RequestMetricsCache.Cell(
            requests: Counter(label: prefix + "_requests_total",
                              dimensions: [("route", route), ("method", key.method.rawValue), ("status", String(key.status))]),
            duration: CoreMetrics.Timer(label: prefix + "_request_duration_seconds",
                                        dimensions: [("route", route), ("method", key.method.rawValue)]))
    }
}
