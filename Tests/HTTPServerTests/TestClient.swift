import Glibc
import HTTPServer
import Sockets
import TestSupport

/// A raw HTTP/1.1 client for live tests: sends exact bytes, reads exact responses, never sleeps a
/// fixed time (each read polls in 10 ms slices up to a deadline, yielding in between).
final class TestClient: @unchecked Sendable {
    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    let socket: ClientSocket
    private var buffer: [UInt8] = []
    private(set) var closed = false

    init(port: Int, host: String = "127.0.0.1") throws {
        socket = try ClientSocket.connect(to: .tcp(host: host, port: port), timeout: 5)
        let flags = fcntl(socket.fd, F_GETFL)
        _ = fcntl(socket.fd, F_SETFL, flags | O_NONBLOCK)
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(socket.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN { _ = try socket.waitFor(events: Int16(POLLOUT), timeout: 1, operation: "send"); continue }
                throw SocketError("send", code: errno)
            }
            offset += n
        }
    }

    /// Half-closes the write side (the server sees EOF).
    func shutdownWrite() { _ = Glibc.shutdown(socket.fd, Int32(SHUT_WR)) }

    /// Reads more bytes into the buffer; false on timeout. EOF sets `closed`.
    private func fill(until deadline: ContinuousClock.Instant) async throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            if try socket.waitFor(events: Int16(POLLIN), timeout: 0.01, operation: "recv") {
                let n = recv(socket.fd, &chunk, chunk.count, 0)
                if n > 0 {
                    buffer.append(contentsOf: chunk[0..<n])
                    return true
                }
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) {
                    closed = true
                    return false
                }
            }
            await Task.yield()
        }
        return false
    }

    private func line(until deadline: ContinuousClock.Instant) async throws -> String {
        while true {
            if let i = buffer.firstIndex(of: 0x0A), i > 0, buffer[i - 1] == 0x0D {
                let text = String(decoding: buffer[0..<(i - 1)], as: UTF8.self)
                buffer.removeFirst(i + 1)
                return text
            }
            guard try await fill(until: deadline) else { throw TestSupportError(closed ? "connection closed mid-line" : "timed out reading a line") }
        }
    }

    private func bytes(_ count: Int, until deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        while buffer.count < count {
            guard try await fill(until: deadline) else { throw TestSupportError("timed out reading \(count) body bytes") }
        }
        defer { buffer.removeFirst(count) }
        return Array(buffer[0..<count])
    }

    /// Reads one response (interim 1xx included). `head` true for a response to HEAD (no body).
    func readResponse(head: Bool = false, timeout: Double = 30) async throws -> Response {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        let statusLine = try await line(until: deadline)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw TestSupportError("bad status line: \(statusLine)")
        }
        var headers = HTTPHeaders()
        while true {
            let field = try await line(until: deadline)
            if field.isEmpty { break }
            let colon = field.firstIndex(of: ":")!
            headers.add(name: String(field[..<colon]),
                        value: String(field[field.index(after: colon)...]).trimmingCharacters(in: " "))
        }
        var body: [UInt8] = []
        if head || (100..<200).contains(status) || status == 204 || status == 304 {
            return Response(status: status, headers: headers, body: body)
        }
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                let sizeLine = try await line(until: deadline)
                let size = Int(sizeLine.split(separator: ";")[0], radix: 16)!
                if size == 0 {
                    while try await line(until: deadline) != "" {}
                    break
                }
                body += try await bytes(size, until: deadline)
                _ = try await bytes(2, until: deadline)
            }
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            body = try await bytes(length, until: deadline)
        } else {
            while try await fill(until: deadline) {}
            body = buffer
            buffer = []
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// True when the server closes the connection (EOF or reset) before `timeout`; unread bytes are dropped.
    func waitForClose(timeout: Double = 30) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            if closed { return true }
            if try await fill(until: deadline) { buffer.removeAll() }
        }
        return closed
    }

    /// True when nothing arrives and the connection stays open for `seconds`.
    func staysQuiet(for seconds: Double) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let got = try await fill(until: deadline)
        return !got && !closed
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
