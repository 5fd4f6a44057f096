@testable import HTTP2
import HTTPServer
import Testing

/// Each abuse case, driven with raw frames and no socket, ends in a GOAWAY with the code RFC 9113 gives it,
/// with what the connection holds bounded. Codes: ENHANCE_YOUR_CALM (0xb) for floods, rapid reset and an
/// oversized decoded header list (§10.5: abuse the peer could have avoided); COMPRESSION_ERROR (0x9) for a
/// field block that does not decode (§4.3); FRAME_SIZE_ERROR (0x6) for a frame of the wrong size (§4.2, §6.7).
@Suite struct HTTP2AbuseTests {
    static let enhanceYourCalm: UInt32 = 0xB

    /// The GOAWAY is the session's last word: it closes the transport after it.
    func expectGoaway(_ driver: SessionDriver, _ code: UInt32, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(driver.goaways.count == 1, sourceLocation: sourceLocation)
        #expect(driver.goaway?.goawayCode == code, sourceLocation: sourceLocation)
        #expect(driver.frames.last?.type == Frame.goaway, sourceLocation: sourceLocation)
        #expect(driver.closing, sourceLocation: sourceLocation)
        #expect(driver.transport.peakPending <= driver.transport.outputHighWater + HTTP2Session.failureSlack,
                sourceLocation: sourceLocation)
    }

    static func headersThenReset(_ count: Int, from first: Int = 0) -> [UInt8] {
        (first..<first + count).flatMap { i -> [UInt8] in
            let stream = UInt32(2 * i + 1)
            return Frame.encode(Frame.headers, flags: 0x05, stream: stream, Frame.requestBlock(path: "/hello"))
                + Frame.encode(Frame.rstStream, stream: stream, Frame.uint32(8))
        }
    }

    @Test func rapidResetBeyondTheBudgetEndsWithEnhanceYourCalm() throws {
        var limits = HTTP2.Limits()
        limits.resetBurst = 10
        limits.resetsPerSecond = 1
        let driver = try SessionDriver(limits: limits)
        driver.handshake()
        driver.send(Self.headersThenReset(50))
        expectGoaway(driver, Self.enhanceYourCalm)
        #expect(driver.session.streams.count <= 1)  // the one whose reset tripped the budget, until the close
    }

    @Test func resetsWithinTheRateNeverTripTheGuard() throws {
        var limits = HTTP2.Limits()
        limits.resetBurst = 10
        limits.resetsPerSecond = 1
        let driver = try SessionDriver(limits: limits)
        driver.handshake()
        for i in 0..<50 {
            driver.transport.now += 1_000_000_000
            driver.send(Self.headersThenReset(1, from: i))
        }
        #expect(driver.goaway == nil)
        #expect(!driver.closing)
    }

    @Test func continuationFloodEndsWithEnhanceYourCalm() throws {
        let driver = try SessionDriver()
        driver.handshake()
        var bytes = Frame.encode(Frame.headers, stream: 1, Frame.requestBlock(path: "/hello"))
        for _ in 0..<50 { bytes += Frame.encode(Frame.continuation, stream: 1, [0x00, 0x01, 0x61, 0x01, 0x62]) }
        driver.send(bytes)
        expectGoaway(driver, Self.enhanceYourCalm)
    }

    @Test func theMostContinuationsAllowedPassEvenWithEveryFrameHeaderSplitAcrossReads() throws {
        let driver = try SessionDriver()
        driver.handshake()
        let block = Frame.requestBlock(path: "/hello")
        var bytes = Frame.encode(Frame.headers, flags: 0x01, stream: 1, Array(block[..<1]))
        for i in 1..<8 { bytes += Frame.encode(Frame.continuation, stream: 1, [block[i]]) }
        bytes += Frame.encode(Frame.continuation, flags: 0x04, stream: 1, Array(block[8...]))
        for byte in bytes { driver.send([byte]) }
        #expect(driver.body(of: 1) == ("hello", true))
        #expect(driver.goaway == nil)
    }

    @Test func settingsFloodEndsWithEnhanceYourCalm() throws {
        let driver = try SessionDriver()
        driver.handshake()
        driver.send((0..<500).flatMap { _ in Frame.encode(Frame.settings) })
        expectGoaway(driver, Self.enhanceYourCalm)
        // The budget is 200 frames: the ACKs stop there.
        #expect(driver.frames.filter { $0.type == Frame.settings && $0.flags & 1 == 1 }.count <= 201)
    }

    @Test func settingsFrameWithTooManyEntriesEndsWithEnhanceYourCalm() throws {
        let driver = try SessionDriver()
        driver.handshake()
        driver.send(Frame.encode(Frame.settings, Frame.settingsPayload((0..<40).map { _ in (4, 65_535) })))
        expectGoaway(driver, Self.enhanceYourCalm)
    }

    @Test func pingFloodEndsWithEnhanceYourCalm() throws {
        let driver = try SessionDriver()
        driver.handshake()
        driver.send((0..<500).flatMap { _ in Frame.encode(Frame.ping, [UInt8](repeating: 7, count: 8)) })
        expectGoaway(driver, Self.enhanceYourCalm)
        #expect(driver.frames.filter { $0.type == Frame.ping }.count <= 201)
    }

    @Test func pingsWithinTheRateAreAnswered() throws {
        let driver = try SessionDriver()
        driver.handshake()
        for _ in 0..<300 {
            driver.transport.now += 100_000_000
            driver.send(Frame.encode(Frame.ping, [UInt8](repeating: 7, count: 8)))
        }
        #expect(driver.frames.filter { $0.type == Frame.ping && $0.flags == 1 }.count == 300)
        #expect(driver.goaway == nil)
    }

    @Test func acksForAPeerThatNeverReadsAreBoundedThenEndWithEnhanceYourCalm() throws {
        var limits = HTTP2.Limits()
        limits.controlFrameBurst = 1_000_000  // only the queued-ACK bound is left to act
        let driver = try SessionDriver(limits: limits)
        driver.transport.outputHighWater = 4096
        driver.handshake()
        driver.transport.peerReads = false
        let batch = (0..<100).flatMap { _ in Frame.encode(Frame.ping, [UInt8](repeating: 1, count: 8)) }
        var sent = 0
        while !driver.session.failed && sent < 100_000 {
            driver.send(batch)
            sent += 100
        }
        // 4 KiB in the transport, then at most 1000 ACKs inside nghttp2: the flood is seen within that.
        #expect(sent <= 4096 / 17 + 1000 + 200)
        #expect(driver.transport.peakPending <= 4096 + HTTP2Session.failureSlack)
        driver.peerReadsAgain()
        expectGoaway(driver, Self.enhanceYourCalm)
    }

    @Test func hpackBombEndsWithEnhanceYourCalmWithoutHoldingTheDecodedFields() throws {
        let driver = try SessionDriver()
        driver.handshake()
        // One 4,000-byte field in the dynamic table (literal with incremental indexing), then a block that
        // names it 1,000 times in 1,000 bytes: 4 MB decoded from 1 KB.
        let big = [0x40] + Frame.string("x-bomb") + Frame.string(String(repeating: "b", count: 4000))
        driver.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, Frame.requestBlock(path: "/hello") + big))
        #expect(driver.body(of: 1) == ("hello", true))
        let bomb = Frame.requestBlock(path: "/hello") + [UInt8](repeating: 0xBE, count: 1000)  // index 62
        driver.send(Frame.encode(Frame.headers, flags: 0x05, stream: 3, bomb))
        expectGoaway(driver, Self.enhanceYourCalm)
        #expect(driver.session.streams.values.allSatisfy { $0.headerBytes <= 16 * 1024 + 4100 })
    }

    @Test func undecodableFieldBlockEndsWithCompressionError() throws {
        let driver = try SessionDriver()
        driver.handshake()
        // Index 70 with an empty dynamic table.
        driver.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, [0x82, 0x86, 0xC6]))
        expectGoaway(driver, 0x9)
    }

    @Test func pingOfTheWrongSizeEndsWithFrameSizeError() throws {
        let driver = try SessionDriver()
        driver.handshake()
        driver.send(Frame.encode(Frame.ping, [UInt8](repeating: 0, count: 7)))
        expectGoaway(driver, 0x6)
    }

    @Test func frameOverTheMaxFrameSizeEndsWithFrameSizeError() throws {
        let driver = try SessionDriver()
        driver.handshake()
        driver.send(Frame.encode(Frame.headers, flags: 0x04, stream: 1, Frame.requestBlock(method: "POST", path: "/echo")))
        driver.send(Frame.encode(Frame.data, stream: 1, [UInt8](repeating: 0, count: 16_385)))
        expectGoaway(driver, 0x6)
    }

    @Test func brokenPrefaceEndsWithProtocolError() throws {
        let driver = try SessionDriver()
        driver.send(Array("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".utf8))
        #expect(driver.goaway.map { $0.goawayCode == 0x1 } ?? true)
        #expect(driver.closing)
    }
}
