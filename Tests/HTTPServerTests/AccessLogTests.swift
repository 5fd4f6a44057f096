import HTTPServer
import Logging
import Synchronization
import Testing
import TestSupport

/// Keeps every log record in memory.
final class CapturedLogs: Sendable {
    struct Record: Sendable {
        var message: String
        var metadata: [String: String]
    }

    let records = Mutex<[Record]>([])

    var all: [Record] { records.withLock { $0 } }

    func handler(label: String) -> some LogHandler {
        CapturingHandler(logs: self)
    }

    struct CapturingHandler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?,
                 source: String, file: String, function: String, line: UInt)
        {
            let flat = (metadata ?? [:]).mapValues { "\($0)" }
            logs.records.withLock { $0.append(Record(message: "\(message)", metadata: flat)) }
        }
    }
}

@Suite struct AccessLogTests {
    @Test func accessLog_recordsMethodPathStatusBytesDurationAndRequestID() async throws {
        let logs = CapturedLogs()
        let logger = Logger(label: "test.access") { logs.handler(label: $0) }
        let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 1),
                                    router: .testing(), logger: logger)
        try server.start()
        let client = try TestClient(port: server.port)
        try client.send("GET /hello HTTP/1.1\r\nHost: t\r\nX-Request-ID: abc-123\r\n\r\n")
        #expect(try await client.readResponse().status == 200)
        try client.send("GET /missing HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try await client.readResponse().status == 404)
        await server.shutdown(grace: 1)

        let lines = logs.all.filter { $0.metadata["http.status"] != nil }
        #expect(lines.map(\.message) == ["GET /hello 200 HTTP/1.1", "GET /missing 404 HTTP/1.1"])
        #expect(lines.map { $0.metadata["http.protocol"] } == ["HTTP/1.1", "HTTP/1.1"])
        #expect(lines.first?.metadata["request.id"] == "abc-123")
        #expect(lines.first?.metadata["http.bytes"].flatMap(Int.init).map { $0 > 5 } == true)
        #expect(lines.first?.metadata["duration_ms"] != nil)
        #expect(lines.last?.metadata["request.id"]?.isEmpty == false, "an id is generated when none is sent")
    }

    @Test func accessLog_isSkipped_whenTheLevelIsAboveInfo() async throws {
        let logs = CapturedLogs()
        var logger = Logger(label: "test.access") { logs.handler(label: $0) }
        logger.logLevel = .warning
        let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 1),
                                    router: .testing(), logger: logger)
        try server.start()
        let client = try TestClient(port: server.port)
        try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try await client.readResponse().status == 200)
        await server.shutdown(grace: 1)
        #expect(logs.all.isEmpty)
    }
}
