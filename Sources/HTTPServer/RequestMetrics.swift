import CoreMetrics
import Sockets
import Synchronization

/// Request metrics as middleware, through swift-metrics (the app bootstraps a backend such as
/// Prometheus): `<prefix>_requests_total{route,method,status}`, the latency histogram
/// `<prefix>_request_duration_seconds{route,method}` and `<prefix>_requests_in_flight`. The route
/// label is the matched pattern (`/tasks/{id}`), or `unmatched`, so the label set stays bounded.
/// Handles are made once per label set and cached: a request costs a dictionary lookup, not a
/// registry lookup.
public final class RequestMetrics: HTTPMiddleware {
    private struct Key: Hashable {
        var route: String
        var method: HTTPMethod
        var status: Int
    }

    private let prefix: String
    private let inFlight: Meter
    private let counters = Mutex<[Key: Counter]>([:])
    private let timers = Mutex<[Key: Timer]>([:])

    /// Metrics named `<prefix>_…` (default `celeriac_http`).
    public init(prefix: String = "celeriac_http") {
        self.prefix = prefix
        inFlight = Meter(label: prefix + "_requests_in_flight")
    }

    /// Counts and times the request, whatever answers it.
    public func respond(to request: HTTPRequest, route: MatchedRoute,
                        next: (HTTPRequest) async -> HTTPResponse) async throws -> HTTPResponse {
        let start = MonotonicClock.nanoseconds()
        inFlight.increment()
        let response = await next(request)
        inFlight.decrement()
        let elapsed = MonotonicClock.nanoseconds() &- start
        let pattern = route.pattern ?? "unmatched"
        timer(Key(route: pattern, method: request.method, status: 0)).recordNanoseconds(Int64(clamping: elapsed))
        counter(Key(route: pattern, method: request.method, status: response.status)).increment()
        return response
    }

    private func counter(_ key: Key) -> Counter {
        if let counter = counters.withLock({ $0[key] }) { return counter }
        let counter = Counter(label: prefix + "_requests_total",
                              dimensions: [("route", key.route), ("method", key.method.rawValue), ("status", String(key.status))])
        counters.withLock { $0[key] = counter }
        return counter
    }

    private func timer(_ key: Key) -> Timer {
        if let timer = timers.withLock({ $0[key] }) { return timer }
        let timer = Timer(label: prefix + "_request_duration_seconds",
                          dimensions: [("route", key.route), ("method", key.method.rawValue)])
        timers.withLock { $0[key] = timer }
        return timer
    }
}
