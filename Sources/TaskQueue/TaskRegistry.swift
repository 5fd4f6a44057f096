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
    /// The worker's broker, for a task that sends tasks itself (Celery's `celery.chunks` sends a group).
    public var broker: Broker?
    /// Stores a custom state and its meta object for this task (the worker's result backend); nil outside a worker.
    public var reporter: ProgressReporter?

    public init(id: String, name: String, retries: Int, queue: String, hostname: String, logger: Logger, broker: Broker? = nil,
                reporter: ProgressReporter? = nil) {
        self.id = id
        self.name = name
        self.retries = retries
        self.queue = queue
        self.hostname = hostname
        self.logger = logger
        self.broker = broker
        self.reporter = reporter
    }

    /// Celery's `self.update_state(state="PROGRESS", meta=…)`: stores `meta` under a custom state, so
    /// `GET /tasks/{id}` and Python's `AsyncResult.info` show it while the task runs. A long poll is not
    /// ended by it. Throws when `state` is one of Celery's own (they belong to the worker) or Redis fails.
    public func progress(_ meta: JSONValue, state: TaskState = .progress) async throws {
        guard state.isCustom else {
            throw RegistryError("task '\(name)': progress takes a custom state, not \(state.rawValue)")
        }
        try await reporter?(state, meta)
    }
}

/// Writes a running task's custom state and meta (the worker supplies it; see `TaskContext.progress`).
public typealias ProgressReporter = @Sendable (TaskState, JSONValue) async throws -> Void

/// A task handler: JSON arguments in, a JSON value out, or a thrown error (stored as a FAILURE whose
/// `exc_type` Python's `AsyncResult.get()` raises).
public typealias TaskHandler = @Sendable (TaskArguments, TaskContext) async throws -> JSONValue

/// A registered task: its name (as Celery producers spell it), parameter names for keyword binding,
/// its options, and the handler.
public struct TaskDefinition: Sendable {
    public var name: String
    public var parameters: [String]
    public var options: TaskOptions
    public var handler: TaskHandler

    public init(name: String, parameters: [String], options: TaskOptions = TaskOptions(), handler: @escaping TaskHandler) {
        self.name = name
        self.parameters = parameters
        self.options = options
        self.handler = handler
    }
}

/// Per-task behaviour, Celery's task options: automatic retries and time limits.
public struct TaskOptions: Sendable {
    /// Retry failures the policy accepts, with backoff; nil: a failure is final (unless the handler throws `Retry`).
    public var retry: RetryPolicy?
    /// Seconds after which the handler's Swift task is cancelled (cooperative) → FAILURE `SoftTimeLimitExceeded`.
    public var softTimeLimit: Double?
    /// Seconds after which the slot is freed whatever the handler does → FAILURE `TimeLimitExceeded`.
    public var timeLimit: Double?
    /// Celery's `rate_limit`, but global: starts of this task across all workers (a limit set in Redis wins).
    public var rateLimit: RateLimit?
    /// Seconds in which a submission over the API with equal args and kwargs answers with the first task's id
    /// (as `unique_for` on `POST /tasks`, which wins when given).
    public var uniqueFor: Double?

    public init(retry: RetryPolicy? = nil, softTimeLimit: Double? = nil, timeLimit: Double? = nil, rateLimit: RateLimit? = nil,
                uniqueFor: Double? = nil) {
        self.retry = retry
        self.softTimeLimit = softTimeLimit
        self.timeLimit = timeLimit
        self.rateLimit = rateLimit
        self.uniqueFor = uniqueFor
    }
}

extension TaskOptions {
    /// Time limits and retry delays become timers and dates: out of range is a start-up error, not a trap later.
    func validate(task: String) throws {
        for (name, value) in [("softTimeLimit", softTimeLimit), ("timeLimit", timeLimit)] {
            if let value, !(TimeBounds.isDelay(value, atMost: TimeBounds.maxTimeLimit) && value > 0) {
                throw RegistryError("task '\(task)': \(name) must be above 0 and at most \(Int(TimeBounds.maxTimeLimit)) s, not \(value)")
            }
        }
        if let uniqueFor, !(TimeBounds.isDelay(uniqueFor) && uniqueFor > 0) {
            throw RegistryError("task '\(task)': uniqueFor must be above 0 and at most ten years, not \(uniqueFor)")
        }
        if let retry {
            guard (0...Int(TimeBounds.maxRetries)).contains(retry.maxRetries) else {
                throw RegistryError("task '\(task)': maxRetries must be from 0 to \(TimeBounds.maxRetries), not \(retry.maxRetries)")
            }
            guard TimeBounds.isDelay(retry.baseDelay), TimeBounds.isDelay(retry.maxDelay) else {
                throw RegistryError("task '\(task)': retry delays must be seconds from 0 to ten years")
            }
        }
    }
}

/// Celery's `autoretry_for` + `retry_backoff`: which errors retry, how often, how long between.
public struct RetryPolicy: Sendable {
    /// Retries after the first attempt. Default 3 (Celery's `max_retries`).
    public var maxRetries: Int
    /// First delay in seconds; attempt n waits `base * 2^n`, capped at `maxDelay`. Defaults 1 and 600.
    public var baseDelay: Double
    public var maxDelay: Double
    /// Full jitter: a random delay in [delay/2, delay], so retries of many tasks spread out. Default true.
    public var jitter: Bool
    /// Which errors are worth retrying. Default: all.
    public var retryOn: @Sendable (any Error) -> Bool

    public init(maxRetries: Int = 3, baseDelay: Double = 1, maxDelay: Double = 600, jitter: Bool = true,
                retryOn: @escaping @Sendable (any Error) -> Bool = { _ in true }) {
        self.maxRetries = maxRetries
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = jitter
        self.retryOn = retryOn
    }

    /// Seconds to wait before retry number `retries + 1`.
    public func delay(afterRetries retries: Int) -> Double {
        let raw = min(maxDelay, baseDelay * pow(2, Double(min(retries, 60))))
        return jitter ? Double.random(in: raw / 2...raw) : raw
    }
}

import Foundation

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
        try definition.options.validate(task: definition.name)
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
