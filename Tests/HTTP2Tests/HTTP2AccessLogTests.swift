import Glibc
import HTTP2
import HTTPServer
import Logging
import Sockets
import Synchronization
import Testing

/// Keeps the access-log records (message and metadata) in memory.
final class AccessRecords: Sendable {
    let records = Mutex<[(message: String, metadata: [String: String])]>([])

    struct Handler: LogHandler {
        let sink: AccessRecords
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            guard let fields = event.metadata, fields["http.status"] != nil else { return }
            sink.records.withLock { $0.append(("\(event.message)", fields.mapValues { "\($0)" })) }
        }
    }
}

/// One HTTP/1.1 exchange on a fresh connection: sends `request`, reads until the peer closes.
func http1Exchange(port: Int, _ request: String) throws -> String {
    let socket = try ClientSocket.connect(to: .tcp(host: "127.0.0.1", port: port), timeout: 5)
    let bytes = Array(request.utf8)
    _ = bytes.withUnsafeBytes { Glibc.send(socket.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while try socket.waitFor(events: Int16(POLLIN), timeout: 5, operation: "recv") {
        let n = recv(socket.fd, &chunk, chunk.count, 0)
        if n <= 0 { break }
        response += chunk[0..<n]
    }
    return String(decoding: response, as: UTF8.self)
}

@Suite struct HTTP2AccessLogTests {
    @Test func accessLogNamesTheProtocolAndRequestIDsFollowTheSameRulesOnBoth() async throws {
        let sink = AccessRecords()
        let logger = Logger(label: "test.access") { _ in AccessRecords.Handler(sink: sink) }
        let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 1), router: testRouter(),
                                    logger: logger, sessions: HTTP2())
        try server.start()
        let h1Given = try http1Exchange(port: server.port, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Request-ID: given-1\r\nConnection: close\r\n\r\n")
        let h1Fresh = try http1Exchange(port: server.port, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Request-ID: bad id\r\nConnection: close\r\n\r\n")
        #expect(h1Given.hasPrefix("HTTP/1.1 200") && h1Fresh.hasPrefix("HTTP/1.1 200"))
        let client = try FrameClient(port: server.port)
        try client.handshake()
        try client.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1,
                                     Frame.requestBlock(path: "/hello", extra: [("x-request-id", "given-2")])))
        try client.send(Frame.encode(Frame.headers, flags: 0x05, stream: 3,
                                     Frame.requestBlock(path: "/hello", extra: [("x-request-id", "bad id")])))
        #expect(try await client.read { _ in client.body(of: 1).ended && client.body(of: 3).ended })
        await server.shutdown(grace: 1)

        let lines = sink.records.withLock { $0 }
        #expect(lines.map(\.message) == ["GET /hello 200 HTTP/1.1", "GET /hello 200 HTTP/1.1",
                                         "GET /hello 200 HTTP/2", "GET /hello 200 HTTP/2"])
        #expect(lines.map { $0.metadata["http.protocol"] } == ["HTTP/1.1", "HTTP/1.1", "HTTP/2", "HTTP/2"])
        let ids = lines.map { $0.metadata["request.id"] ?? "" }
        #expect(ids[0] == "given-1" && ids[2] == "given-2")
        // An insane client id is replaced by the same generator on both protocols: `<loop>-<counter>` in hex.
        let generated = [ids[1], ids[3]]
        #expect(generated.allSatisfy { $0.split(separator: "-").count == 2 && $0.allSatisfy { $0.isHexDigit || $0 == "-" } })
        #expect(generated[0] != generated[1])
    }
}
