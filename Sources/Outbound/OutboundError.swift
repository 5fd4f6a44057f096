/// A failed outbound call: what kind of failure, the call (`GET https://…`, `SMTP smtps://host:465`,
/// never a password) and libcurl's own words, so a task's FAILURE says exactly what went wrong.
public struct OutboundError: Error, Sendable, CustomStringConvertible {
    /// The failures a task may want to treat differently.
    public enum Kind: String, Sendable {
        /// The server refused the user name or password (SMTP 535, curl's `CURLE_LOGIN_DENIED`).
        case loginDenied
        /// The peer's certificate is not trusted or does not match the host: the connection was refused.
        case certificate
        /// The server does not offer TLS where it is required (STARTTLS missing).
        case tlsRequired
        /// No connection: DNS, refused, unreachable.
        case connect
        /// The call did not finish within its timeout.
        case timeout
        /// The response body was larger than the client accepts.
        case tooLarge
        /// Anything else (protocol errors, resets, bad URLs).
        case other
    }

    /// The kind of failure.
    public var kind: Kind
    /// The call that failed, credentials removed.
    public var operation: String
    /// libcurl's message (its error buffer), or ours.
    public var detail: String
    /// The `CURLcode`, 0 when the failure is not libcurl's.
    public var curlCode: Int

    /// An error of a known kind.
    public init(_ kind: Kind, operation: String, detail: String, curlCode: Int = 0) {
        self.kind = kind
        self.operation = operation
        self.detail = detail
        self.curlCode = curlCode
    }

    /// Classifies a libcurl result code (numbers from curl.h, stable across libcurl 7 and 8).
    init(curlCode code: Int, operation: String, detail: String) {
        let kind: Kind = switch code {
        case 67: .loginDenied                          // CURLE_LOGIN_DENIED
        case 51, 58, 60, 77, 83, 90, 91: .certificate  // peer verification, CA file, pinning, cert status
        case 64: .tlsRequired                          // CURLE_USE_SSL_FAILED
        case 5, 6, 7: .connect                         // resolve proxy/host, couldn't connect
        case 28: .timeout                              // CURLE_OPERATION_TIMEDOUT
        default: .other
        }
        self.init(kind, operation: operation, detail: detail, curlCode: code)
    }

    /// One sentence: the call, what went wrong in plain words, then libcurl's message.
    public var description: String {
        let plain: String = switch kind {
        case .loginDenied: "authentication failed: the server refused the user name or password"
        case .certificate: "TLS certificate not trusted, connection refused"
        case .tlsRequired: "the server does not offer TLS (STARTTLS), which is required"
        case .connect: "could not connect"
        case .timeout: "timed out"
        case .tooLarge: "response too large"
        case .other: "failed"
        }
        return "\(operation): \(plain) (\(detail))"
    }
}
