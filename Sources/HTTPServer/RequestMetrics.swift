import CoreMetrics
import Synchronization

/// Request metrics as middleware, through swift-metrics (the app bootstraps a backend such as
/// Prometheus): `<prefix>_requests_total{route,method,status}`, the latency histogram
/// `<prefix>_request_duration_seconds{route,method}` and `<prefix>_requests_in_flight`. The route
/// label is the matched pattern (`/tasks/{id}`), or `unmatched`, so the label set stays bounded.
/// Handles are made once per label set and cached: a request costs one dictionary lookup.
public final class RequestMetrics: HTTPMiddleware {
    private struct Key: Hashable {
        var route: String?
        var method: HTTPMethod
        var status: Int
    }

    private struct Handles {
        var requests: Counter
        var duration: CoreMetrics.Timer
    }

    private let prefix: String
    private let inFlight: Meter
    private let handles = Mutex<[Key: Handles]>([:])

    /// Metrics named `<prefix>_…` (default `celeriac_http`).
    public init(prefix: String = "celeriac_http") {
        self.prefix = prefix
        inFlight = Meter(label: prefix + "_requests_in_flight")
    }

    /// One more request in flight.
    public func willRespond(to request: HTTPRequest, route: MatchedRoute) -> HTTPResponse? {
        inFlight.increment()
        return nil
    }

    /// Counts and times the request, whatever answered it.
    public func didRespond(to request: HTTPRequest, route: MatchedRoute, status: Int, nanoseconds: UInt64) {
        inFlight.decrement()
        let handles = handles(Key(route: route.pattern, method: request.method, status: status))
        handles.requests.increment()
        handles.duration.recordNanoseconds(Int64(clamping: nanoseconds))
    }

    private func handles(_ key: Key) -> Handles {
        handles.withLock { handles in
            if let found = handles[key] { return found }
            let route = key.route ?? "unmatched"
            let made = Handles(
                requests: Counter(label: prefix + "_requests_total",
                                  dimensions: [("route", route), ("method", key.method.rawValue), ("status", String(key.status))]),
                duration: CoreMetrics.Timer(label: prefix + "_request_duration_seconds",
                                            dimensions: [("route", route), ("method", key.method.rawValue)]))
            handles[key] = made
            return made
        }
    }
}
