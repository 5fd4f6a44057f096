/// Errors of queue operations that are not Redis's own.
public enum TaskQueueError: Error, CustomStringConvertible, Sendable {
    case unexpectedReply(operation: String, reply: String)

    public var description: String {
        switch self {
        case .unexpectedReply(let operation, let reply): "\(operation): unexpected reply \(reply)"
        }
    }
}
