import Logging
import TaskProtocol

/// What a running task knows about itself.
public struct TaskContext: Sendable {
    public var id: String
    public var name: String
    public var retries: Int
    public var queue: String
    /// The worker's node name, e.g. `w1@host`.
    public var hostname: String
    public var logger: Logger

    public init(id: String, name: String, retries: Int, queue: String, hostname: String, logger: Logger) {
        self.id = id
        self.name = name
        self.retries = retries
        self.queue = queue
        self.hostname = hostname
        self.logger = logger
    }
}

/// A task handler: JSON arguments in, a JSON value out, or a thrown error (stored as a FAILURE whose
/// `exc_type` Python's `AsyncResult.get()` raises).
public typealias TaskHandler = @Sendable (TaskArguments, TaskContext) async throws -> JSONValue

/// A registered task: its name (as Celery producers spell it), parameter names for keyword binding,
/// and the handler.
public struct TaskDefinition: Sendable {
    public var name: String
    public var parameters: [String]
    public var handler: TaskHandler

    public init(name: String, parameters: [String], handler: @escaping TaskHandler) {
        self.name = name
        self.parameters = parameters
        self.handler = handler
    }
}

/// Task name → handler. Filled at start-up, then read-only (validated before the worker starts).
public struct TaskRegistry: Sendable {
    public private(set) var definitions: [String: TaskDefinition] = [:]

    public init() {}

    /// Adds a task; a duplicate or empty name is a start-up error.
    public mutating func register(_ definition: TaskDefinition) throws {
        guard !definition.name.isEmpty else { throw RegistryError("a task name must not be empty") }
        guard definitions[definition.name] == nil else {
            throw RegistryError("task '\(definition.name)' is registered twice")
        }
        guard Set(definition.parameters).count == definition.parameters.count else {
            throw RegistryError("task '\(definition.name)' has duplicate parameter names")
        }
        definitions[definition.name] = definition
    }

    public subscript(name: String) -> TaskDefinition? { definitions[name] }

    /// Registered names, sorted (the worker's `[tasks]` banner and heartbeat).
    public var names: [String] { definitions.keys.sorted() }
}

/// A start-up error in the task registry.
public struct RegistryError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
