import Celeriac
import Foundation
import Glibc
import Sockets

/// Sends email over plain SMTP (`smtp://host:port`): EHLO (HELO fallback), MAIL FROM, RCPT TO, DATA
/// with dot-stuffing, QUIT. No TLS or AUTH: meant for a local relay or a catcher such as Mailpit.
public struct SMTPDelivery: EmailDelivery {
    public var host: String
    public var port: Int
    /// Seconds for the connection and each reply. Default 10.
    public var timeout: Double = 10
    /// The name we give in EHLO.
    public var heloName: String = ProcessInfo.processInfo.hostName

    public init(url: String) throws {
        guard let u = URL(string: url), u.scheme == "smtp", let host = u.host, !host.isEmpty else {
            throw ExceptionInfo(type: "ValueError", message: "SMTP_URL must be smtp://host:port, got \(url)")
        }
        self.host = host
        self.port = u.port ?? 25
    }

    public func deliver(_ message: EmailMessage) async throws -> String {
        let settings = self
        // Blocking socket I/O stays off the Swift concurrency threads.
        return try await offloaded("smtp") { try settings.send(message) }
    }

    func send(_ message: EmailMessage) throws -> String {
        let socket: ClientSocket
        do {
            socket = try ClientSocket.connect(to: .tcp(host: host, port: port), timeout: timeout)
        } catch {
            throw SMTPError(stage: "connect", code: 0, text: "\(error)")
        }
        defer { socket.shutdown() }
        var session = SMTPSession(socket: socket, timeout: timeout)
        try session.expect("greeting", [220])
        let ehlo = try session.command("EHLO \(heloName)", stage: "EHLO")
        if ehlo.code != 250 { try session.command("HELO \(heloName)", stage: "HELO", expect: [250]) }
        try session.command("MAIL FROM:<\(message.from)>", stage: "MAIL FROM", expect: [250])
        try session.command("RCPT TO:<\(message.to)>", stage: "RCPT TO", expect: [250, 251])
        try session.command("DATA", stage: "DATA", expect: [354])
        try session.write(Self.dotStuffed(message.rendered) + "\r\n.\r\n")
        let accepted = try session.expect("message", [250])
        _ = try? session.command("QUIT", stage: "QUIT")
        return "sent via smtp://\(host):\(port): \(accepted.text)"
    }

    /// RFC 5321 §4.5.2: normalise line ends to CRLF and double a leading dot on every line.
    public static func dotStuffed(_ text: String) -> String {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        return normalized.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") ? "." + $0 : String($0) }
            .joined(separator: "\r\n")
    }
}

/// An SMTP failure: which step, the server's code and text. 4xx and connection failures are transient.
public struct SMTPError: CeleryException, CustomStringConvertible {
    public var stage: String
    public var code: Int
    public var text: String
    public var isTransient: Bool { code == 0 || (400..<500).contains(code) }
    public var exceptionInfo: ExceptionInfo {
        ExceptionInfo(type: "SMTPError", message: description, module: "celeriac.errors")
    }
    public var description: String { code == 0 ? "SMTP \(stage): \(text)" : "SMTP \(stage): \(code) \(text)" }
}

/// One SMTP conversation over a blocking socket: commands out, (multi-line) replies in.
struct SMTPSession {
    let socket: ClientSocket
    let timeout: Double
    private var buffer: [UInt8] = []

    init(socket: ClientSocket, timeout: Double) {
        self.socket = socket
        self.timeout = timeout
    }

    mutating func write(_ text: String) throws {
        do { try socket.sendAll(Array(text.utf8)) } catch { throw SMTPError(stage: "write", code: 0, text: "\(error)") }
    }

    @discardableResult
    mutating func command(_ line: String, stage: String, expect codes: [Int]? = nil) throws -> (code: Int, text: String) {
        try write(line + "\r\n")
        let reply = try readReply(stage: stage)
        if let codes, !codes.contains(reply.code) { throw SMTPError(stage: stage, code: reply.code, text: reply.text) }
        return reply
    }

    @discardableResult
    mutating func expect(_ stage: String, _ codes: [Int]) throws -> (code: Int, text: String) {
        let reply = try readReply(stage: stage)
        guard codes.contains(reply.code) else { throw SMTPError(stage: stage, code: reply.code, text: reply.text) }
        return reply
    }

    /// Reads `ddd-text` lines until `ddd text`.
    mutating func readReply(stage: String) throws -> (code: Int, text: String) {
        var lines: [String] = []
        while true {
            let line = try readLine(stage: stage)
            guard line.count >= 3, let code = Int(line.prefix(3)) else {
                throw SMTPError(stage: stage, code: 0, text: "malformed reply '\(line.prefix(80))'")
            }
            lines.append(String(line.dropFirst(4)))
            if line.count == 3 || line[line.index(line.startIndex, offsetBy: 3)] == " " {
                return (code, lines.joined(separator: " "))
            }
        }
    }

    private mutating func readLine(stage: String) throws -> String {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let index = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<index])
                buffer.removeFirst(index + 1)
                if line.last == 13 { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard buffer.count < 64 * 1024 else { throw SMTPError(stage: stage, code: 0, text: "reply line too long") }
            do {
                guard try socket.waitFor(events: Int16(POLLIN), timeout: timeout, operation: "smtp") else {
                    throw SMTPError(stage: stage, code: 0, text: "no reply within \(timeout)s")
                }
                let n = try chunk.withUnsafeMutableBytes { try socket.receive(into: $0) }
                guard n > 0 else { throw SMTPError(stage: stage, code: 0, text: "server closed the connection") }
                buffer += chunk[0..<n]
            } catch let error as SMTPError {
                throw error
            } catch {
                throw SMTPError(stage: stage, code: 0, text: "\(error)")
            }
        }
    }
}
