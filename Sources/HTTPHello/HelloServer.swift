import HTTPServer
import Metrics
import Prometheus

/// The benchmark's hello-world: `GET /` answers "Hello, World!" (bench/http/run.sh).
/// Usage: `http-hello [port] [threads] [auth-metrics|auth|metrics]`. With `metrics`, requests go
/// through `RequestMetrics` (on a bootstrapped Prometheus registry); with `auth` through `BearerAuth`,
/// and `GET /` needs `Authorization: Bearer \(benchToken)` (scope read); `auth-metrics` is both
/// (bench/auth/run.sh measures the cost).
@main
enum HelloServer {
    static let benchToken = "bench-token-0123456789abcdef"

    static func main() throws {
        let arguments = CommandLine.arguments
        let port = arguments.count > 1 ? Int(arguments[1]) ?? 8080 : 8080
        var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: port, accessLog: false)
        if arguments.count > 2, let threads = Int(arguments[2]) { configuration.threads = threads }
        let mode = arguments.count > 3 ? arguments[3] : ""
        let metrics = mode == "auth-metrics" || mode == "metrics"
        let auth = mode == "auth-metrics" || mode == "auth"
        if metrics { MetricsSystem.bootstrap(PrometheusMetricsFactory()) }
        var router = Router()
        let hello = Array("Hello, World!".utf8)
        router.add(.get, "/", access: .read) { _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], body: hello)
        }
        if metrics { router.use(RequestMetrics()) }
        if auth {
            router.use(BearerAuth(tokens: try BearerTokens(parsing: "\(benchToken) read bench"), logger: .init(label: "hello")))
        }
        let server = try HTTPServer(configuration: configuration, router: router)
        try server.runBlocking()
    }
}
