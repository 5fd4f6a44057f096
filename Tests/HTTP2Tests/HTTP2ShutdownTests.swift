@testable import HTTP2
import HTTPServer
import Testing

/// Saying goodbye: the idle timeout and graceful shutdown, without a socket and then live.
@Suite struct HTTP2ShutdownTests {
    @Test func idleTimeoutSendsGoawayNoErrorWithTheLastStreamThenCloses() throws {
        let driver = try SessionDriver()
        driver.handshake()
        driver.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, Frame.requestBlock(path: "/hello")))
        #expect(driver.body(of: 1) == ("hello", true))
        #expect(driver.session.isIdle)
        driver.idleTimedOut()
        #expect(driver.goaway?.goawayCode == 0)
        #expect(driver.goaway?.goawayLastStream == 1)
        #expect(driver.transport.state == .closed)  // its output taken, then closed
    }

    @Test func drainSendsGoawayWithTheLastStreamFinishesThoseInFlightAndIgnoresNewOnes() throws {
        let gate = ManualGate()
        var router = testRouter()
        router.add(.get, "/slow") { _ in
            await gate.arrive()
            return .text("done")
        }
        let driver = try SessionDriver(router: router)
        driver.handshake()
        driver.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, Frame.requestBlock(path: "/slow"))
            + Frame.encode(Frame.headers, flags: 0x05, stream: 3, Frame.requestBlock(path: "/slow"))
            + Frame.encode(Frame.headers, flags: 0x05, stream: 5, Frame.requestBlock(path: "/hello")))
        #expect(driver.body(of: 5) == ("hello", true))
        driver.drain()
        #expect(driver.goaway?.goawayCode == 0)
        #expect(driver.goaway?.goawayLastStream == 5)
        // A stream opened after the GOAWAY is past its last stream id: never served.
        driver.send(Frame.encode(Frame.headers, flags: 0x05, stream: 7, Frame.requestBlock(path: "/hello")))
        #expect(!driver.frames.contains { $0.stream == 7 && $0.type <= Frame.headers })
        #expect(!driver.closing)
        gate.open()
        driver.runHandlers()
        #expect(driver.body(of: 1) == ("done", true))
        #expect(driver.body(of: 3) == ("done", true))
        #expect(driver.closing)
        #expect(driver.transport.accessLog.map(\.line).sorted() == ["GET /hello", "GET /slow", "GET /slow"])
    }

    @Test func idleConnectionGetsGoawayNoErrorThenIsClosed() async throws {
        try await withH2Server(configure: { $0.timeouts.idle = 0.3 }) { server in
            let client = try FrameClient(port: server.port)
            try client.handshake()
            try client.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, Frame.requestBlock(path: "/hello")))
            #expect(try await client.read { _ in client.body(of: 1).ended })
            #expect(try await client.read(timeout: 30) { _ in client.closed })
            #expect(client.goaway?.goawayCode == 0)
            #expect(client.goaway?.goawayLastStream == 1)
        }
    }

    @Test func streamStillRunningWhenTheGraceEndsIsCutAndTheConnectionClosed() async throws {
        var router = testRouter()
        router.add(.get, "/never") { _ in
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
            return .text("cancelled")
        }
        let server = try startH2Server(router)
        let client = try FrameClient(port: server.port)
        try client.handshake()
        try client.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, Frame.requestBlock(path: "/never")))
        #expect(try await client.read { frames in frames.contains { $0.type == Frame.settings } })
        let started = ContinuousClock.now
        await server.shutdown(grace: 0.3)
        #expect(ContinuousClock.now - started < .seconds(20))  // the handler never ends: only the grace can stop it (generous: test start-up congests the pool)
        #expect(try await client.read { _ in client.closed })
        #expect(client.goaway?.goawayCode == 0)
        #expect(client.goaway?.goawayLastStream == 1)
        #expect(!client.body(of: 1).ended)
    }
}
