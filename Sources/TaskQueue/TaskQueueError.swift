import RedisClient

/// Errors of queue operations that are not Redis's own.
public enum TaskQueueError: Error, CustomStringConvertible, Sendable {
    case unexpectedReply(operation: String, reply: String)

    public var description: String {
        switch self {
        case .unexpectedReply(let operation, let reply): "\(operation): unexpected reply \(reply)"
        }
    }

    /// True when `error` means Redis may be reachable again later (an API answers 503, a worker backs
    /// off and retries), as opposed to an operation Redis refused.
    public static func isConnectivity(_ error: any Error) -> Bool {
        (error as? RedisError)?.isConnectivity == true
    }
}
