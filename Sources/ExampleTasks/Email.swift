import Celeriac
import Foundation

/// An email ready to send: RFC 5322 headers and a text body.
public struct EmailMessage: Sendable {
    public var from: String
    public var to: String
    public var subject: String
    public var body: String
    public var messageID: String

    /// The activation email of `POST /register`.
    public static func activation(from: String, to: String, link: String, taskID: String) -> EmailMessage {
        EmailMessage(from: from, to: to, subject: "Activate your account",
                     body: "Welcome!\r\n\r\nPlease activate your account:\r\n\(link)\r\n",
                     messageID: "<\(taskID)@celeriac>")
    }

    /// The full message text with CRLF line endings.
    public var rendered: String {
        let date = DateFormatter.rfc5322.string(from: Date())
        return [
            "From: \(from)", "To: \(to)", "Subject: \(subject)", "Date: \(date)", "Message-ID: \(messageID)",
            "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", body,
        ].joined(separator: "\r\n")
    }
}

extension DateFormatter {
    static let rfc5322: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return f
    }()
}

/// Somewhere an email can be handed to.
public protocol EmailDelivery: Sendable {
    /// Delivers the message and returns a short receipt for the task result.
    func deliver(_ message: EmailMessage) async throws -> String
}

/// Writes each email as an `.eml` file (the default when `SMTP_URL` is not set).
public struct FileOutbox: EmailDelivery {
    /// Where `.eml` files go (created on first use).
    public var folder: URL
    /// An outbox writing to `folder`.
    public init(folder: URL) { self.folder = folder }

    /// Writes the message atomically (write, then rename); returns the file's path.
    public func deliver(_ message: EmailMessage) async throws -> String {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let safe = message.to.map { $0.isLetter || $0.isNumber || $0 == "@" || $0 == "." ? $0 : "_" }
        let name = "\(Int(Date().timeIntervalSince1970 * 1000))-\(String(safe)).eml"
        let file = folder.appendingPathComponent(name)
        // Write then rename, so a reader never sees half a file.
        let temp = folder.appendingPathComponent("." + name + ".tmp")
        try Data(message.rendered.utf8).write(to: temp)
        try FileManager.default.moveItem(at: temp, to: file)
        return "written to \(file.path)"
    }
}

/// Hands emails to a mail provider over SMTP through libcurl (`Outbound.SMTPClient`): STARTTLS or
/// implicit TLS, AUTH, certificates checked.
public struct SMTPDelivery: EmailDelivery {
    /// The configured client (URL with credentials, CA file).
    public var client: SMTPClient

    /// A delivery through `client`.
    public init(client: SMTPClient) { self.client = client }

    /// Submits the message; a libcurl failure becomes an `EmailError` (retried by the task's policy).
    public func deliver(_ message: EmailMessage) async throws -> String {
        do {
            return try await client.send(from: message.from, to: [message.to], message: Array(message.rendered.utf8))
        } catch let error as OutboundError {
            throw EmailError(error)
        }
    }
}

/// A failed delivery, stored for Python under smtplib's exception names so the FAILURE says what happened:
/// `SMTPAuthenticationError` (wrong user name or password), `SSLCertVerificationError` (untrusted server),
/// `SMTPError` for the rest.
public struct EmailError: CeleryException, CustomStringConvertible {
    /// libcurl's failure, classified.
    public var underlying: OutboundError

    /// Wraps a libcurl failure.
    public init(_ underlying: OutboundError) { self.underlying = underlying }

    /// smtplib's exception name for the kind of failure, in module `celeriac.errors`.
    public var exceptionInfo: ExceptionInfo {
        let type = switch underlying.kind {
        case .loginDenied: "SMTPAuthenticationError"
        case .certificate: "SSLCertVerificationError"
        default: "SMTPError"
        }
        return ExceptionInfo(type: type, message: description, module: "celeriac.errors")
    }

    /// The call, the cause in plain words, and libcurl's message (never the password).
    public var description: String { underlying.description }
}
