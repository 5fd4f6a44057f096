import Foundation
import Glibc

/// A response as a test sees it.
public struct TestHTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
    /// The body parsed as JSON (Foundation's parser: tests only read it).
    public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
}

/// A tiny blocking HTTP/1.1 client for tests: one request per connection (`Connection: close`),
/// reads until the server closes. Runs off the Swift concurrency threads.
public enum HTTPTestClient {
    public static func request(port: Int, method: String, path: String, headers: [(String, String)] = [],
                               body: String? = nil, timeout: Double = 30) async throws -> TestHTTPResponse {
        try await withCheckedThrowingContinuation { continuation in
            // A thread of its own: Dispatch's global pool starves when many test clients block at once.
            Thread {
                continuation.resume(with: Result {
                    try requestSync(port: port, method: method, path: path, headers: headers, body: body, timeout: timeout)
                })
            }.start()
        }
    }

    public static func requestSync(port: Int, method: String, path: String, headers: [(String, String)] = [],
                                   body: String? = nil, timeout: Double = 30) throws -> TestHTTPResponse {
        let fd = try connectLoopback(port: port, receiveTimeout: timeout)
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        let bodyBytes = Array((body ?? "").utf8)
        if body != nil { head += "Content-Length: \(bodyBytes.count)\r\n" }
        let bytes = Array((head + "\r\n").utf8) + bodyBytes
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestSupportError("send: errno \(errno)") }
            sent += n
        }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { data += buffer[0..<n]; continue }
            if n == 0 { break }
            if errno == EINTR { continue }
            throw TestSupportError("recv: errno \(errno) after \(data.count) bytes")
        }
        return try parse(data)
    }

    static func parse(_ data: [UInt8]) throws -> TestHTTPResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, data.count - 3)).first(where: { Array(data[$0..<$0 + 4]) == separator }) else {
            throw TestSupportError("no complete response head in \(data.count) bytes")
        }
        let head = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw TestSupportError("bad status line \(head[0])") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(data[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        return TestHTTPResponse(status: status, headers: headers, body: body)
    }

    static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            guard let lineEnd = (i..<bytes.count - 1).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else { break }
            let sizeText = String(decoding: bytes[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            let start = lineEnd + 2
            out += bytes[start..<min(start + size, bytes.count)]
            i = start + size + 2
        }
        return out
    }
}
