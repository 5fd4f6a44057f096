import CCurl

/// Submits email to a mail provider through libcurl's SMTP: `smtp://user:pass@host:587` upgrades with
/// STARTTLS, which is **required** (a server without it is an error, never a plaintext fallback);
/// `smtps://user:pass@host:465` is TLS from the first byte. AUTH uses the URL's credentials
/// (percent-encode `@`, `:` and `/` in them); certificates are always checked, against the system's
/// CAs or `caFile`. curl does the SMTP dot-stuffing of the message.
public struct SMTPClient: Sendable {
    /// The server URL, with credentials.
    public var url: String
    /// A PEM file of CA certificates to trust instead of the system's (for tests, private relays).
    public var caFile: String?
    /// Seconds for the whole submission. Default 30.
    public var timeout: Double = 30
    /// Seconds to connect (TCP and TLS). Default 10.
    public var connectTimeout: Double = 10

    /// False only for a local catcher without TLS (Mailpit in docker-compose): STARTTLS is then used if
    /// offered, else the message goes in plaintext. Never allowed with credentials in the URL.
    public var requiresTLS = true

    /// Checks the URL at once (scheme `smtp` or `smtps`, a host; no credentials without TLS) so a
    /// mistake fails at start-up.
    public init(url: String, caFile: String? = nil, allowPlaintext: Bool = false) throws {
        let scheme = url.prefix(while: { $0 != ":" }).lowercased()
        let rest = url.firstRange(of: "://").map { url[$0.upperBound...] } ?? ""
        let authority = rest.prefix(while: { $0 != "/" && $0 != "?" && $0 != "#" })
        let hostAndPort = authority.lastIndex(of: "@").map { authority[authority.index(after: $0)...] } ?? authority
        let host = hostAndPort.hasPrefix("[") ? hostAndPort.prefix(while: { $0 != "]" }) : hostAndPort.prefix(while: { $0 != ":" })
        guard ["smtp", "smtps"].contains(scheme), url.contains("://"), !host.isEmpty else {
            throw OutboundError(.other, operation: "SMTP \(Redacted.url(url))",
                                detail: "SMTP_URL must be smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465")
        }
        if allowPlaintext, authority.contains("@") {
            throw OutboundError(.other, operation: "SMTP \(Redacted.url(url))",
                                detail: "credentials are never sent without TLS: drop them or the plaintext option")
        }
        self.url = url
        self.caFile = caFile
        self.requiresTLS = !allowPlaintext
    }

    /// The URL as errors and receipts show it (no password).
    public var displayURL: String { Redacted.url(url) }

    /// Sends `message` (RFC 5322 text, CRLF line ends) from `sender` to `recipients`; returns a receipt
    /// naming the server and its final reply code. Throws `OutboundError` (`.loginDenied` for a wrong
    /// password, `.certificate` for an untrusted server, `.tlsRequired` when STARTTLS is missing).
    public func send(from sender: String, to recipients: [String], message: [UInt8]) async throws -> String {
        let transfer = try Transfer(operation: "SMTP \(displayURL)", maxResponseBytes: 64 << 10)
        transfer.set(CURLOPT_URL, url)
        transfer.set(CURLOPT_PROTOCOLS_STR, "smtp,smtps")
        transfer.set(CURLOPT_USE_SSL, Int((requiresTLS ? CURLUSESSL_ALL : CURLUSESSL_TRY).rawValue))
        // A new connection per message, closed after it: never a session left over from a failed login.
        transfer.set(CURLOPT_FRESH_CONNECT, 1)
        transfer.set(CURLOPT_FORBID_REUSE, 1)
        transfer.applyCommon(timeout: timeout, connectTimeout: connectTimeout, caFile: caFile)
        transfer.set(CURLOPT_MAIL_FROM, "<\(sender)>")
        transfer.set(CURLOPT_MAIL_RCPT, list: recipients.map { "<\($0)>" })
        transfer.setUpload(message)
        let done = try await transfer.perform()
        return "sent via \(displayURL) (\(done.code))"
    }
}
