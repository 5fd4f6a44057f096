import HTTPServer
import Metrics
import Prometheus
import Synchronization

/// The process's Prometheus registry, bootstrapped as the swift-metrics backend once, by the command
/// that runs (`api` or `worker`): libraries only make metrics, as they only log (house style 9).
enum MetricsBootstrap {
    static let registry = PrometheusCollectorRegistry()
    private static let done = Mutex(false)

    /// Makes Prometheus the metrics backend of this process (the first call only).
    static func bootstrap() {
        let first = done.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        MetricsSystem.bootstrap(factory)
    }

    /// Every duration histogram's buckets, `RequestMetrics`' too: task runtimes and queue waits reach
    /// minutes; requests are milliseconds.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
    ]

    /// The text exposition format of every metric of this process (request counts folded in first:
    /// `RequestMetrics` counts per event loop, publishes at scrape time and writes its own latency
    /// histograms after the registry's metrics).
    static func exposition() -> [UInt8] {
        RequestMetrics.flushAll()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        RequestMetrics.emitAll(into: &buffer)
        return buffer
    }
}
