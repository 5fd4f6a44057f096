/// Why a message from a queue cannot be run. Such a message goes to the dead-letter list with this reason.
public struct MessageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The field at fault, e.g. `properties.delivery_tag`, or `envelope` / `body`.
    public var field: String
    /// A sentence saying what was seen.
    public var reason: String
    /// The task id and name, when they could be read before the failure (for logs and the API).
    public var taskID: String?
    public var taskName: String?

    public init(field: String, reason: String, taskID: String? = nil, taskName: String? = nil) {
        self.field = field
        self.reason = reason
        self.taskID = taskID
        self.taskName = taskName
    }

    public var description: String { "\(field): \(reason)" }
}
