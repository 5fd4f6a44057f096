import Glibc
import Sockets

/// An HTTP/2 frame as it crossed the wire.
struct Frame {
    var type: UInt8
    var flags: UInt8
    var stream: UInt32
    var payload: [UInt8]

    static let data: UInt8 = 0, headers: UInt8 = 1, rstStream: UInt8 = 3, settings: UInt8 = 4, ping: UInt8 = 6
    static let goaway: UInt8 = 7, continuation: UInt8 = 9

    /// The bytes of a frame: 24-bit length, type, flags, 31-bit stream id, payload (RFC 9113 §4.1).
    static func encode(_ type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags,
                UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    /// A request header block by hand: `:method` and `:scheme http` from HPACK's static table, `:path`
    /// and any extra fields as literals without indexing (RFC 7541 §6.2.2), no Huffman coding.
    static func requestBlock(method: String = "GET", path: String, extra: [(String, String)] = []) -> [UInt8] {
        var block: [UInt8] = method == "GET" ? [0x82] : (method == "POST" ? [0x83] : literal(indexedName: 2, method))
        block.append(0x86)
        block += literal(indexedName: 1, "test")  // :authority (nghttp2 requires it or Host)
        block += literal(indexedName: 4, path)
        for (name, value) in extra { block += [0x00] + string(name) + string(value) }
        return block
    }

    static func literal(indexedName index: UInt8, _ value: String) -> [UInt8] { [index] + string(value) }

    /// A string literal; lengths up to 126 fit one byte, longer use HPACK's 7-bit prefix integer.
    static func string(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        if bytes.count < 127 {
            out.append(UInt8(bytes.count))
        } else {
            out.append(127)
            var rest = bytes.count - 127
            while rest >= 128 {
                out.append(UInt8(rest & 0x7F | 0x80))
                rest >>= 7
            }
            out.append(UInt8(rest))
        }
        return out + bytes
    }

    var goawayCode: UInt32? {
        guard type == Frame.goaway, payload.count >= 8 else { return nil }
        return payload[4...7].reduce(0) { $0 << 8 | UInt32($1) }
    }

    var goawayLastStream: UInt32? {
        guard type == Frame.goaway, payload.count >= 8 else { return nil }
        return payload[0...3].reduce(0) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
    }
}

/// A raw HTTP/2 client: sends exact frames, reads frames until a condition or a deadline (no fixed sleeps).
final class FrameClient {
    let socket: ClientSocket
    private var buffer: [UInt8] = []
    private(set) var frames: [Frame] = []
    private(set) var closed = false

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    init(port: Int) throws {
        socket = try ClientSocket.connect(to: .tcp(host: "127.0.0.1", port: port), timeout: 5)
        let flags = fcntl(socket.fd, F_GETFL)
        _ = fcntl(socket.fd, F_SETFL, flags | O_NONBLOCK)
    }

    /// The preface and an empty SETTINGS frame, as every client starts.
    func handshake() throws { try send(Self.preface + Frame.encode(Frame.settings)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(socket.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN { _ = try socket.waitFor(events: Int16(POLLOUT), timeout: 1, operation: "send"); continue }
                if errno == EPIPE || errno == ECONNRESET { closed = true; return }
                throw SocketError("send", code: errno)
            }
            offset += n
        }
    }

    /// Reads until `done(frames)` holds or the peer closes; false on timeout. Every caller waits for
    /// something that must come, so the timeout is generous: the test run's start-up can keep a server's
    /// task (a shutdown, a handler) from running for seconds.
    func read(timeout: Double = 30, until done: ([Frame]) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !done(frames) {
            if closed || ContinuousClock.now >= deadline { return done(frames) }
            if try socket.waitFor(events: Int16(POLLIN), timeout: 0.01, operation: "recv") {
                let n = recv(socket.fd, &chunk, chunk.count, 0)
                if n > 0 {
                    buffer.append(contentsOf: chunk[0..<n])
                    parse()
                } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                    closed = true
                }
            } else {
                await Task.yield()
            }
        }
        return true
    }

    private func parse() {
        while buffer.count >= 9 {
            let length = Int(buffer[0]) << 16 | Int(buffer[1]) << 8 | Int(buffer[2])
            guard buffer.count >= 9 + length else { return }
            let stream = buffer[5...8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
            frames.append(Frame(type: buffer[3], flags: buffer[4], stream: stream, payload: Array(buffer[9..<9 + length])))
            buffer.removeFirst(9 + length)
        }
    }

    /// The DATA bytes received on `stream`, and whether END_STREAM came.
    func body(of stream: UInt32) -> (bytes: [UInt8], ended: Bool) {
        let data = frames.filter { $0.stream == stream && $0.type == Frame.data }
        return (data.flatMap(\.payload), frames.contains { $0.stream == stream && $0.flags & 1 != 0 })
    }

    var goaway: Frame? { frames.first { $0.type == Frame.goaway } }
}
