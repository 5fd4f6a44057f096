import Glibc

/// The one error type of the `Sockets` module: which call failed, on what, and the errno text.
public struct SocketError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The system call or operation that failed, e.g. `connect(127.0.0.1:6379)`.
    public var operation: String
    /// The `errno` value, or 0 when the failure is not an errno (a timeout, a bad address).
    public var code: Int32
    /// Extra words when there is no errno to explain the failure.
    public var detail: String?

    public init(_ operation: String, code: Int32, detail: String? = nil) {
        self.operation = operation
        self.code = code
        self.detail = detail
    }

    public var description: String {
        if let detail { return "\(operation): \(detail)" }
        return "\(operation): \(String(cString: strerror(code)))"
    }

    /// True for a failure that means "the peer went away" rather than a bug.
    public var isDisconnect: Bool {
        [ECONNRESET, EPIPE, ECONNREFUSED, ENOTCONN, ECONNABORTED].contains(code)
    }
}
