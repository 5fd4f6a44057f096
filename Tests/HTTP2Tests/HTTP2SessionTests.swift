import HTTP2
import HTTPServer
import Logging
import Testing

/// A started server that speaks HTTP/1.1 and h2c on one loop, logging warnings only; the caller shuts it down.
func startH2Server(limits: HTTP2.Limits = HTTP2.Limits(), maxBodyBytes: Int = 1 << 20, _ router: Router = testRouter(),
                   configure: (inout HTTPServer.Configuration) -> Void = { _ in }) throws -> HTTPServer
{
    var logger = Logger(label: "test.http2")
    logger.logLevel = .warning
    var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0, threads: 1)
    configuration.limits.maxBodyBytes = maxBodyBytes
    configure(&configuration)
    let server = try HTTPServer(configuration: configuration, router: router,
                                logger: logger, sessions: HTTP2(limits: limits))
    try server.start()
    return server
}

/// Runs `body` against `startH2Server`'s server, always shutting down.
func withH2Server(limits: HTTP2.Limits = HTTP2.Limits(), maxBodyBytes: Int = 1 << 20, _ router: Router = testRouter(),
                  configure: (inout HTTPServer.Configuration) -> Void = { _ in },
                  _ body: (HTTPServer) async throws -> Void) async throws
{
    let server = try startH2Server(limits: limits, maxBodyBytes: maxBodyBytes, router, configure: configure)
    do { try await body(server) } catch {
        await server.shutdown(grace: 1)
        throw error
    }
    await server.shutdown(grace: 1)
}

func testRouter() -> Router {
    var router = Router()
    router.add(.get, "/hello") { _ in .text("hello") }
    router.add(.post, "/echo") { request in HTTPResponse(status: 200, body: request.body) }
    router.add(.get, "/query") { request in .text(request.query["name"] ?? "-") }
    return router
}

/// Frame-level tests: hand-built frames over a loopback socket, checked frame by frame.
@Suite struct HTTP2SessionTests {
    @Test func priorKnowledgePrefaceGetsSettingsAndAResponseOnTheStream() async throws {
        try await withH2Server { server in
            let client = try FrameClient(port: server.port)
            try client.handshake()
            try client.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, Frame.requestBlock(path: "/hello")))
            #expect(try await client.read { _ in client.body(of: 1).ended })
            #expect(client.frames.first?.type == Frame.settings)
            let head = client.frames.first { $0.type == Frame.headers && $0.stream == 1 }
            #expect(head?.payload.first == 0x88)  // :status 200, indexed
            #expect(String(decoding: client.body(of: 1).bytes, as: UTF8.self) == "hello")
        }
    }

    @Test func requestSplitAcrossFramesIsReassembledAndQueryParsed() async throws {
        try await withH2Server { server in
            let client = try FrameClient(port: server.port)
            try client.handshake()
            try client.send(Frame.encode(Frame.headers, flags: 0x04, stream: 1, Frame.requestBlock(method: "POST", path: "/echo")))
            try client.send(Frame.encode(Frame.data, stream: 1, Array("hel".utf8)))
            try client.send(Frame.encode(Frame.data, flags: 0x01, stream: 1, Array("lo!".utf8)))
            try client.send(Frame.encode(Frame.headers, flags: 0x05, stream: 3, Frame.requestBlock(path: "/query?name=a%20b")))
            #expect(try await client.read { _ in client.body(of: 1).ended && client.body(of: 3).ended })
            #expect(String(decoding: client.body(of: 1).bytes, as: UTF8.self) == "hello!")
            #expect(String(decoding: client.body(of: 3).bytes, as: UTF8.self) == "a b")
        }
    }

    @Test func bodyOverTheServerLimitIsAnswered413OnThatStreamOnly() async throws {
        var router = testRouter()
        router.add(.post, "/big") { _ in .text("unreachable") }
        try await withH2Server(maxBodyBytes: 10_000, router) { server in
            let client = try FrameClient(port: server.port)
            try client.handshake()
            try client.send(Frame.encode(Frame.headers, flags: 0x04, stream: 1, Frame.requestBlock(method: "POST", path: "/big")))
            let chunk = [UInt8](repeating: 0x61, count: 16_000)
            for _ in 0..<4 { try client.send(Frame.encode(Frame.data, stream: 1, chunk)) }
            try client.send(Frame.encode(Frame.headers, flags: 0x05, stream: 3, Frame.requestBlock(path: "/hello")))
            #expect(try await client.read { _ in client.body(of: 3).ended && client.body(of: 1).ended })
            #expect(String(decoding: client.body(of: 3).bytes, as: UTF8.self) == "hello")
            #expect(String(decoding: client.body(of: 1).bytes, as: UTF8.self).contains("\"status\":413"))
            #expect(client.goaway == nil)
        }
    }

    @Test func headerListOverTheLimitEndsWithGoawayEnhanceYourCalm() async throws {
        var limits = HTTP2.Limits()
        limits.maxHeaderListBytes = 4096
        try await withH2Server(limits: limits) { server in
            let client = try FrameClient(port: server.port)
            try client.handshake()
            let big = (0..<8).map { ("x-pad-\($0)", String(repeating: "v", count: 900)) }
            try client.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, Frame.requestBlock(path: "/hello", extra: big)))
            #expect(try await client.read { _ in client.goaway != nil })
            #expect(client.goaway?.goawayCode == 0xB)  // ENHANCE_YOUR_CALM
        }
    }

    @Test func rapidResetBeyondTheBurstEndsWithGoaway() async throws {
        var limits = HTTP2.Limits()
        limits.resetBurst = 10
        limits.resetsPerSecond = 1
        try await withH2Server(limits: limits) { server in
            let client = try FrameClient(port: server.port)
            try client.handshake()
            var bytes: [UInt8] = []
            for i in 0..<50 {
                let stream = UInt32(2 * i + 1)
                bytes += Frame.encode(Frame.headers, flags: 0x05, stream: stream, Frame.requestBlock(path: "/hello"))
                bytes += Frame.encode(Frame.rstStream, stream: stream, [0, 0, 0, 8])  // CANCEL
            }
            try client.send(bytes)
            #expect(try await client.read { _ in client.goaway != nil })
            #expect(client.goaway?.goawayCode != 0)
        }
    }

    @Test func continuationFloodEndsWithGoaway() async throws {
        try await withH2Server { server in
            let client = try FrameClient(port: server.port)
            try client.handshake()
            var bytes = Frame.encode(Frame.headers, flags: 0x01, stream: 1, Frame.requestBlock(path: "/hello"))
            for _ in 0..<50 { bytes += Frame.encode(Frame.continuation, stream: 1, [0x00, 0x01, 0x61, 0x01, 0x62]) }
            try client.send(bytes)
            #expect(try await client.read { _ in client.goaway != nil })
            #expect(client.goaway.map { $0.goawayCode != 0 } == true)
        }
    }

    @Test func shutdownSendsGoawayWithLastStreamAndFinishesTheStreamInFlight() async throws {
        let gate = AsyncGate()
        var router = testRouter()
        router.add(.get, "/slow") { _ in
            await gate.arrive()
            return .text("done")
        }
        let server = try startH2Server(router)
        let client = try FrameClient(port: server.port)
        try client.handshake()
        try client.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, Frame.requestBlock(path: "/slow")))
        await gate.waitForArrival()
        let stopping = Task { await server.shutdown(grace: 5) }
        #expect(try await client.read { _ in client.goaway != nil })
        #expect(client.goaway?.goawayLastStream == 1)
        #expect(client.goaway?.goawayCode == 0)
        await gate.open()
        #expect(try await client.read { _ in client.body(of: 1).ended })
        #expect(String(decoding: client.body(of: 1).bytes, as: UTF8.self) == "done")
        await stopping.value
    }
}

/// A handler waits here until the test opens it; the test can wait for a handler to arrive.
actor AsyncGate {
    private var isOpen = false
    private var arrived = false
    private var handlers: [CheckedContinuation<Void, Never>] = []
    private var watchers: [CheckedContinuation<Void, Never>] = []

    func arrive() async {
        arrived = true
        for watcher in watchers { watcher.resume() }
        watchers = []
        if isOpen { return }
        await withCheckedContinuation { handlers.append($0) }
    }

    func waitForArrival() async {
        if arrived { return }
        await withCheckedContinuation { watchers.append($0) }
    }

    func open() {
        isOpen = true
        for handler in handlers { handler.resume() }
        handlers = []
    }
}
