import HTTPServer
import Logging
import Worker

/// A worker's own small HTTP endpoint (`--metrics-bind`), on the same HTTPServer as the API:
/// `/metrics` for Prometheus (scope `read` when tokens are on), `/healthz` (the process answers) and
/// `/readyz` (it takes work and reaches Redis) for Kubernetes probes.
enum WorkerEndpoint {
    /// The server, validated and not yet started.
    static func server(host: String, port: Int, worker: Worker, auth: BearerAuth?, logger: Logger) throws -> HTTPServer {
        var router = Router()
        router.add(.get, "/metrics", access: .read) { _ in
            // Gauges read at scrape time; a Redis outage still serves the counters.
            do { try await worker.refreshGauges() } catch {
                logger.warning("metrics: queue lengths unavailable: \(error)")
            }
            return HTTPResponse(status: 200, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                                body: MetricsBootstrap.exposition())
        }
        router.add(.get, "/healthz", access: .open) { _ in .json(bytes: Array(#"{"status": "ok"}"#.utf8)) }
        router.add(.get, "/readyz", access: .open) { _ in
            await worker.isReady()
                ? .json(bytes: Array(#"{"status": "ready", "redis": "ok"}"#.utf8))
                : .problem(status: 503, detail: "the worker is stopping or cannot reach Redis")
        }
        router.use(RequestMetrics(prefix: "celeriac_worker_http", buckets: MetricsBootstrap.durationBuckets))
        if let auth { router.use(auth) }
        var configuration = HTTPServer.Configuration(host: host, port: port, threads: 1)
        configuration.accessLog = false
        configuration.timeouts.shutdownGrace = 2
        return try HTTPServer(configuration: configuration, router: router, logger: logger)
    }
}
