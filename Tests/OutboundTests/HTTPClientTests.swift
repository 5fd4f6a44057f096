import HTTPServer
import Logging
import Outbound
import Synchronization
import Testing
import TestSupport

/// A local HTTP server (our own, on port 0) for the client to talk to; `/slow` never answers until the
/// test ends, and counts the requests parked in it.
final class LocalServer: Sendable {
    let server: HTTPServer
    private let parked = Counter()
    var parkedCount: Int { parked.value.load(ordering: .relaxed) }
    var base: String { "http://127.0.0.1:\(server.port)" }

    init() throws {
        var router = Router()
        router.add(.get, "/hello") { _ in HTTPResponse(status: 200, headers: [("X-Test", "yes")], body: Array("hello".utf8)) }
        router.add(.get, "/redirect") { _ in HTTPResponse(status: 302, headers: [("Location", "/hello")]) }
        router.add(.get, "/missing") { _ in .text(status: 404, "no") }
        router.add(.get, "/big") { _ in HTTPResponse(status: 200, body: [UInt8](repeating: 65, count: 4096)) }
        router.add(.post, "/echo") { request in HTTPResponse(status: 201, body: request.body) }
        let parked = self.parked
        router.add(.get, "/slow") { _ in
            parked.value.add(1, ordering: .relaxed)
            try await Task.sleep(for: .seconds(30))  // the slow remote itself; the tests never wait for it
            return .text("late")
        }
        var logger = Logger(label: "test.outbound")
        logger.logLevel = .critical
        server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 1), router: router, logger: logger)
        try server.start()
    }

    func stop() async { await server.shutdown(grace: 0.1) }
}

/// A shared count (an `Atomic` must live in a class to be shared).
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

@Suite struct HTTPClientTests {
    @Test func get_returnsStatusHeadersAndBody_andFollowsRedirects() async throws {
        let local = try LocalServer()
        let client = HTTPClient()
        let hello = try await client.get(local.base + "/hello")
        #expect(hello.status == 200 && hello.text == "hello")
        #expect(hello.headers.contains { $0.name.lowercased() == "x-test" && $0.value == "yes" })
        let redirected = try await client.get(local.base + "/redirect")
        #expect(redirected.status == 200 && redirected.text == "hello")
        #expect(redirected.url == local.base + "/hello")
        #expect(try await client.get(local.base + "/missing").status == 404)
        let echoed = try await client.send("POST", local.base + "/echo", headers: [("Content-Type", "text/plain")], body: Array("ping".utf8))
        #expect(echoed.status == 201 && echoed.text == "ping")
        await local.stop()
    }

    @Test func failures_areClassified_andNameTheCall() async throws {
        let local = try LocalServer()
        var configuration = HTTPClient.Configuration()
        configuration.timeout = 0.3
        configuration.maxResponseBytes = 1024
        let client = HTTPClient(configuration: configuration)
        let timedOut = await #expect(throws: OutboundError.self) { try await client.get(local.base + "/slow") }
        #expect(timedOut?.kind == .timeout)
        #expect(timedOut?.description.hasPrefix("GET \(local.base)/slow: timed out") == true)
        let tooLarge = await #expect(throws: OutboundError.self) { try await client.get(local.base + "/big") }
        #expect(tooLarge?.kind == .tooLarge)
        let refused = await #expect(throws: OutboundError.self) { try await client.get("http://127.0.0.1:9/") }
        #expect(refused?.kind == .connect)
        let notHTTP = await #expect(throws: OutboundError.self) { try await client.get("file:///etc/passwd") }
        #expect(notHTTP?.kind == .other)
        await local.stop()
    }

    @Test func cancellingTheTask_stopsTheRequest_atOnce() async throws {
        let local = try LocalServer()
        let request = Task { try await HTTPClient().get(local.base + "/slow") }
        #expect(await waitUntil(timeout: 30) { local.parkedCount == 1 })
        let start = ContinuousClock.now
        request.cancel()
        await #expect(throws: CancellationError.self) { try await request.value }
        #expect(ContinuousClock.now - start < .seconds(10), "not the parked request's wait")
        await local.stop()
    }

    @Test func manyRequests_waitTogether_onTheOneTransferThread() async throws {
        let local = try LocalServer()
        var configuration = HTTPClient.Configuration()
        configuration.timeout = 2
        let client = HTTPClient(configuration: configuration)
        let start = ContinuousClock.now
        let outcomes = await withTaskGroup(of: OutboundError.Kind?.self) { group in
            for _ in 0..<20 {
                group.addTask { do { _ = try await client.get(local.base + "/slow"); return nil } catch { return (error as? OutboundError)?.kind } }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes == Array(repeating: .timeout, count: 20))
        // One after another they would take 40 s; the bound leaves room for a loaded machine (the suite's
        // start-up alone has delayed a test's first steps by ~10 s).
        #expect(ContinuousClock.now - start < .seconds(20), "20 parallel 2 s timeouts must overlap")
        await local.stop()
    }

    @Test func smtpURLs_areChecked_andShownWithoutThePassword() throws {
        #expect(try SMTPClient(url: "smtp://me%40x.org:s3cret@mail.example.com:587").displayURL == "smtp://me%40x.org@mail.example.com:587")
        #expect(try SMTPClient(url: "smtps://mail.example.com:465").displayURL == "smtps://mail.example.com:465")
        for bad in ["http://mail.example.com", "smtp://", "smtp://user:pw@", "mail.example.com:587"] {
            #expect(throws: OutboundError.self, "\(bad)") { try SMTPClient(url: bad) }
        }
        #expect(try SMTPClient(url: "smtp://mailpit:1025", allowPlaintext: true).requiresTLS == false)
        #expect(try SMTPClient(url: "smtp://mailpit:1025").requiresTLS)
        #expect(throws: OutboundError.self, "credentials without TLS") {
            try SMTPClient(url: "smtp://user:pw@mailpit:1025", allowPlaintext: true)
        }
    }
}
