@testable import HTTP2
import HTTPServer
import Testing

/// The session driven with raw frames and no socket (`MemoryTransport`): what it writes, frame by frame.
@Suite struct HTTP2FrameTests {
    @Test func prefaceIsAnsweredWithOurSettingsAndTheClientsSettingsAreAcked() throws {
        let driver = try SessionDriver()
        // The server speaks first (RFC 9113 §3.4): its SETTINGS, before any client byte.
        let ours = try #require(driver.frames.first)
        #expect(ours.type == Frame.settings && ours.flags & 1 == 0)
        var settings: [UInt16: UInt32] = [:]
        for (id, value) in ours.settings { settings[id] = value }
        #expect(settings[3] == UInt32(100))  // MAX_CONCURRENT_STREAMS
        #expect(settings[4] == UInt32(256 * 1024))  // INITIAL_WINDOW_SIZE
        #expect(settings[6] == UInt32(16 * 1024))  // MAX_HEADER_LIST_SIZE
        // The connection window is raised from 65,535 to 1 MiB at once.
        let update = try #require(driver.frames.first { $0.type == Frame.windowUpdate && $0.stream == 0 })
        #expect(update.payload == Frame.uint32(UInt32(1 << 20) - 65_535))
        let first = driver.handshake()
        #expect(first.count == 1 && first[0].type == Frame.settings && first[0].flags & 1 == 1)  // the ACK of the client's
        // Our SETTINGS acknowledged: nothing more to say.
        #expect(driver.send(Frame.encode(Frame.settings, flags: 1)).isEmpty)
        #expect(!driver.closing)
    }

    @Test func requestSplitAcrossHeadersContinuationAndDataFedByteByByteIsReassembled() throws {
        let driver = try SessionDriver()
        driver.handshake()
        let block = Frame.requestBlock(method: "POST", path: "/echo", extra: [("x-request-id", "split-1")])
        var bytes = Frame.encode(Frame.headers, stream: 1, Array(block[..<5]))
        bytes += Frame.encode(Frame.continuation, flags: 0x04, stream: 1, Array(block[5...]))
        bytes += Frame.encode(Frame.data, stream: 1, Array("hel".utf8))
        bytes += Frame.encode(Frame.data, stream: 1, [])
        bytes += Frame.encode(Frame.data, flags: 0x01, stream: 1, Array("lo!".utf8))
        for byte in bytes { driver.send([byte]) }
        #expect(driver.body(of: 1) == ("hello!", true))
        #expect(driver.transport.accessLog.map(\.id) == ["split-1"])
        #expect(driver.transport.accessLog.first?.version == .http2)
    }

    @Test func responseLargerThanThePeersWindowWaitsForWindowUpdate() throws {
        var router = testRouter()
        router.add(.get, "/big") { _ in .text(String(repeating: "x", count: 100)) }
        let driver = try SessionDriver(router: router)
        driver.handshake([(4, 16)])  // INITIAL_WINDOW_SIZE 16
        driver.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, Frame.requestBlock(path: "/big")))
        #expect(driver.body(of: 1).text.count == 16)
        #expect(!driver.body(of: 1).ended)
        driver.send(Frame.encode(Frame.windowUpdate, stream: 1, Frame.uint32(40)))
        #expect(driver.body(of: 1).text.count == 56)
        driver.send(Frame.encode(Frame.windowUpdate, stream: 1, Frame.uint32(1000)))
        #expect(driver.body(of: 1) == (String(repeating: "x", count: 100), true))
    }

    @Test func receivedBodyIsCreditedBackWithWindowUpdates() throws {
        var router = testRouter()
        router.add(.post, "/count") { request in .text(String(request.body.count)) }
        let driver = try SessionDriver(router: router)
        driver.handshake()
        driver.send(Frame.encode(Frame.headers, flags: 0x04, stream: 1, Frame.requestBlock(method: "POST", path: "/count")))
        let chunk = [UInt8](repeating: 0x61, count: 16_384)
        var updates: [Frame] = []
        for _ in 0..<40 { updates += driver.send(Frame.encode(Frame.data, stream: 1, chunk)).filter { $0.type == Frame.windowUpdate } }
        // 640 KiB sent against a 256 KiB stream window and a 1 MiB connection window: both were credited.
        #expect(updates.contains { $0.stream == 1 })
        driver.send(Frame.encode(Frame.data, flags: 0x01, stream: 1, []))
        #expect(driver.body(of: 1) == (String(40 * 16_384), true))
        #expect(driver.goaway == nil)
    }

    @Test func rstStreamMidBodyDropsTheRequestAndLeavesTheConnectionServing() throws {
        let driver = try SessionDriver()
        driver.handshake()
        driver.send(Frame.encode(Frame.headers, flags: 0x04, stream: 1, Frame.requestBlock(method: "POST", path: "/echo")))
        driver.send(Frame.encode(Frame.data, stream: 1, Array("partial".utf8)))
        driver.send(Frame.encode(Frame.rstStream, stream: 1, Frame.uint32(8)))  // CANCEL
        #expect(driver.session.streams.isEmpty)
        driver.send(Frame.encode(Frame.headers, flags: 0x05, stream: 3, Frame.requestBlock(path: "/hello")))
        #expect(driver.body(of: 3) == ("hello", true))
        #expect(!driver.frames.contains { $0.stream == 1 })
        #expect(driver.transport.accessLog.map(\.line) == ["GET /hello"])
        #expect(driver.goaway == nil)
    }

    @Test func rstStreamWhileTheHandlerRunsCancelsItAndItsAnswerIsDropped() throws {
        let gate = ManualGate()
        var router = testRouter()
        router.add(.get, "/slow") { _ in
            await gate.arrive()
            return .text(Task.isCancelled ? "cancelled" : "done")
        }
        let driver = try SessionDriver(router: router)
        driver.handshake()
        driver.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, Frame.requestBlock(path: "/slow")))
        #expect(gate.arrivals == 1)
        driver.send(Frame.encode(Frame.rstStream, stream: 1, Frame.uint32(8)))
        gate.open()
        driver.runHandlers()
        #expect(!driver.frames.contains { $0.stream == 1 })
        #expect(driver.session.streams.isEmpty)
        #expect(driver.goaway == nil)
    }

    @Test func clientGoawayLetsTheStreamInFlightFinishThenCloses() throws {
        let gate = ManualGate()
        var router = testRouter()
        router.add(.get, "/slow") { _ in
            await gate.arrive()
            return .text("done")
        }
        let driver = try SessionDriver(router: router)
        driver.handshake()
        driver.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, Frame.requestBlock(path: "/slow")))
        driver.send(Frame.encode(Frame.goaway, Frame.uint32(0) + Frame.uint32(0)))
        #expect(!driver.closing)
        gate.open()
        driver.runHandlers()
        #expect(driver.body(of: 1) == ("done", true))
        #expect(driver.closing)
    }
}
