@testable import HTTPServer
import Prometheus
import Testing

@Suite struct RequestMetricsTests {
    static let buckets: [Duration] = [.milliseconds(1), .milliseconds(5), .seconds(1), .milliseconds(2500), .seconds(300)]

    /// The lines of `text` that belong to the metric family `name`.
    static func family(_ name: String, in text: String) -> [Substring] {
        text.split(separator: "\n").filter { $0.hasPrefix(name + "_") || $0 == "# TYPE \(name) histogram" }
    }

    @Test func latencyHistogram_readsExactlyAsSwiftPrometheusWroteIt() {
        let prefix = "test_exposition_\(UInt32.random(in: 0...UInt32.max))"
        let metrics = RequestMetrics(prefix: prefix, buckets: Self.buckets)
        let registry = PrometheusCollectorRegistry()
        let name = prefix + "_request_duration_seconds"
        let observations: [(String?, HTTPMethod, Int, UInt64)] = [
            ("/tasks/{id}", .get, 200, 420_000), ("/tasks/{id}", .get, 404, 3_000_000), ("/tasks", .post, 202, 1_000_000),
            (nil, .get, 404, 1_234_567_891), ("/tasks", .post, 202, 400_000_000_000), ("/q\"uote", .get, 200, 5_000_000),
        ]
        for (pattern, method, status, nanoseconds) in observations {
            metrics.didRespond(to: HTTPRequest(method: method, path: "/"), route: MatchedRoute(pattern: pattern, access: .open),
                               status: status, nanoseconds: nanoseconds)
            registry.makeDurationHistogram(name: name, labels: [("route", pattern ?? "unmatched"), ("method", method.rawValue)],
                                           buckets: Self.buckets).recordNanoseconds(Int64(nanoseconds))
        }
        var ours: [UInt8] = []
        RequestMetrics.emitAll(into: &ours)
        let theirs = registry.emitToString()
        let expected = Self.family(name, in: theirs)
        #expect(expected.count == 1 + 4 * (Self.buckets.count + 3))
        // Series order differs (theirs is a dictionary's); every line is the same.
        #expect(Self.family(name, in: String(decoding: ours, as: UTF8.self)).sorted() == expected.sorted())
    }

    @Test func requestsThroughTheRouter_countPerRoute_withUnmatchedApart() async throws {
        let prefix = "test_router_\(UInt32.random(in: 0...UInt32.max))"
        var router = Router()
        router.add(.get, "/tasks/{id}") { _ in HTTPResponse(status: 200) }
        router.add(.get, "/other") { _ in HTTPResponse(status: 200) }
        router.use(RequestMetrics(prefix: prefix, buckets: Self.buckets))
        for id in 1...3 { _ = try await router.respond(to: HTTPRequest(method: .get, path: "/tasks/\(id)")) }
        _ = try await router.respond(to: HTTPRequest(method: .get, path: "/nowhere"))
        var text: [UInt8] = []
        RequestMetrics.emitAll(into: &text)
        let lines = Self.family(prefix + "_request_duration_seconds", in: String(decoding: text, as: UTF8.self))
        #expect(lines.contains("\(prefix)_request_duration_seconds_count{route=\"/tasks/{id}\",method=\"GET\"} 3"))
        #expect(lines.contains("\(prefix)_request_duration_seconds_count{route=\"unmatched\",method=\"GET\"} 1"))
        #expect(!lines.contains { $0.contains("/other") })
    }
}
