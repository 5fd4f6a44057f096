@testable import HTTP2
import HTTPServer
import Logging

extension Frame {
    static let windowUpdate: UInt8 = 8

    /// A SETTINGS payload: each (identifier, value) as 16 + 32 bits (RFC 9113 §6.5.1).
    static func settingsPayload(_ entries: [(UInt16, UInt32)]) -> [UInt8] {
        entries.flatMap { id, value in
            [UInt8(id >> 8), UInt8(id & 0xFF), UInt8(value >> 24), UInt8(value >> 16 & 0xFF),
             UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
    }

    static func uint32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// The (identifier, value) pairs of a SETTINGS frame.
    var settings: [(UInt16, UInt32)] {
        var entries: [(UInt16, UInt32)] = []
        var i = 0
        while i + 6 <= payload.count {
            let id = UInt16(payload[i]) << 8 | UInt16(payload[i + 1])
            var value: UInt32 = 0
            for byte in payload[i + 2...i + 5] { value = value << 8 | UInt32(byte) }
            entries.append((id, value))
            i += 6
        }
        return entries
    }

    /// Frames in `bytes`, and how many bytes they took (a trailing partial frame is left).
    static func parse(_ bytes: [UInt8]) -> (frames: [Frame], used: Int) {
        var frames: [Frame] = []
        var at = 0
        while bytes.count - at >= 9 {
            let length = Int(bytes[at]) << 16 | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2])
            guard bytes.count - at >= 9 + length else { break }
            let stream = bytes[at + 5...at + 8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
            frames.append(Frame(type: bytes[at + 3], flags: bytes[at + 4], stream: stream,
                                payload: Array(bytes[at + 9..<at + 9 + length])))
            at += 9 + length
        }
        return (frames, at)
    }
}

/// An HTTP/2 session with no socket: bytes in through `send`, the frames it wrote read back, handlers run
/// on the transport's manual executor between the two. Synchronous, so everything runs on the test's thread.
final class SessionDriver {
    let transport: MemoryTransport
    let session: HTTP2Session
    private var unparsed: [UInt8] = []
    /// Every frame the server wrote so far, in order.
    private(set) var frames: [Frame] = []

    init(limits: HTTP2.Limits = HTTP2.Limits(), maxBodyBytes: Int = 1 << 20, router: Router = testRouter()) throws {
        var logger = Logger(label: "test.http2.memory")
        logger.logLevel = .critical
        var serverLimits = HTTPServer.Limits()
        serverLimits.maxBodyBytes = maxBodyBytes
        transport = try MemoryTransport(router: router, limits: serverLimits, logger: logger)
        session = HTTP2(limits: limits).makeSession(transport: transport) as! HTTP2Session
        [UInt8]().withUnsafeBytes { session.start(initial: $0) }
        _ = collect()
    }

    /// Feeds `bytes`, runs whatever handlers that started, and returns the frames written meanwhile.
    @discardableResult
    func send(_ bytes: [UInt8]) -> [Frame] {
        bytes.withUnsafeBytes { session.receive($0) }
        transport.runHandlers()
        return collect()
    }

    /// The preface and a SETTINGS frame (empty unless given), as every client starts.
    @discardableResult
    func handshake(_ settings: [(UInt16, UInt32)] = []) -> [Frame] {
        send(FrameClient.preface + Frame.encode(Frame.settings, Frame.settingsPayload(settings)))
    }

    /// Lets the peer read again after `peerReads = false`, as a socket turning writable does.
    @discardableResult
    func peerReadsAgain() -> [Frame] {
        transport.peerReads = true
        transport.flush()
        session.transportWritable()
        return collect()
    }

    /// Graceful shutdown began; returns the frames written.
    @discardableResult
    func drain() -> [Frame] {
        session.drain()
        return collect()
    }

    /// The idle timeout passed; returns the frames written.
    @discardableResult
    func idleTimedOut() -> [Frame] {
        session.idleTimedOut()
        return collect()
    }

    /// Runs handler completions (after a test opened a gate) and returns the frames written.
    @discardableResult
    func runHandlers() -> [Frame] {
        transport.runHandlers()
        return collect()
    }

    private func collect() -> [Frame] {
        unparsed += transport.takeOutput()
        let (new, used) = Frame.parse(unparsed)
        unparsed.removeFirst(used)
        frames += new
        return new
    }

    func body(of stream: UInt32) -> (text: String, ended: Bool) {
        let data = frames.filter { $0.stream == stream && $0.type == Frame.data }
        return (String(decoding: data.flatMap(\.payload), as: UTF8.self),
                frames.contains { $0.stream == stream && $0.type <= Frame.headers && $0.flags & 1 != 0 })
    }

    var goaways: [Frame] { frames.filter { $0.type == Frame.goaway } }
    var goaway: Frame? { goaways.first }
    /// Whether the session asked its transport to close (after its last frames, or at once).
    var closing: Bool { transport.state != .open }
}

/// A handler parks here until the test opens the gate; single-threaded (the test and the manual executor).
final class ManualGate: @unchecked Sendable {
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var isOpen = false
    private(set) var arrivals = 0

    func arrive() async {
        arrivals += 1
        if isOpen { return }
        await withCheckedContinuation { waiting.append($0) }
    }

    /// Resumes the parked handlers; their jobs queue on the manual executor (run them with `runHandlers`).
    func open() {
        isOpen = true
        for continuation in waiting { continuation.resume() }
        waiting = []
    }
}
